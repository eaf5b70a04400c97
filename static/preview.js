// The 3D preview: the chosen model (a compact GLB the app's server made) in a canvas you can
// turn and zoom with the mouse, a finger or the keyboard. three.js is loaded only now, after
// sign-in, so the signed-out launch page stays small.

let three = null; // {THREE, OrbitControls, GLTFLoader}, once loaded
let view = null; // {renderer, scene, camera, controls, model, bed, shown}

async function load() {
  if (!three) {
    const [THREE, {OrbitControls}, {GLTFLoader}] = await Promise.all([
      import('./vendor/three/three.module.js'),
      import('./vendor/three/OrbitControls.js'),
      import('./vendor/three/GLTFLoader.js'),
    ]);
    three = {THREE, OrbitControls, GLTFLoader};
  }
  return three;
}

function setUp(canvas) {
  const {THREE, OrbitControls} = three;
  const renderer = new THREE.WebGLRenderer({canvas, antialias: true, preserveDrawingBuffer: true});
  renderer.setPixelRatio(Math.min(window.devicePixelRatio, 2));
  const scene = new THREE.Scene();
  scene.background = new THREE.Color(0xf6f8fb);
  scene.add(new THREE.HemisphereLight(0xffffff, 0x8899aa, 1.2));
  const sun = new THREE.DirectionalLight(0xffffff, 1.6);
  sun.position.set(-1, -1.5, 2);
  scene.add(sun);
  const camera = new THREE.PerspectiveCamera(35, 1, 0.1, 100000);
  camera.up.set(0, 0, 1); // models are Z-up
  const controls = new OrbitControls(camera, canvas);
  controls.addEventListener('change', draw);
  canvas.addEventListener('keydown', (event) => turnOrZoom(event));
  view = {renderer, scene, camera, controls, model: null};
}

// The keyboard: arrow keys turn the model, + and - zoom.
const STEP = Math.PI / 24;
function turnOrZoom(event) {
  const {THREE} = three;
  const {camera, controls} = view;
  const offset = camera.position.clone().sub(controls.target);
  const spherical = new THREE.Spherical().setFromVector3(
    offset.clone().applyQuaternion(new THREE.Quaternion().setFromUnitVectors(
      camera.up, new THREE.Vector3(0, 1, 0))));
  const turns = {ArrowLeft: [0, -STEP], ArrowRight: [0, STEP], ArrowUp: [-STEP, 0],
                 ArrowDown: [STEP, 0]};
  if (event.key in turns) {
    spherical.phi = Math.min(Math.PI - 0.01, Math.max(0.01, spherical.phi + turns[event.key][0]));
    spherical.theta += turns[event.key][1];
  } else if (event.key === '+' || event.key === '=' || event.key === '-') {
    spherical.radius *= event.key === '-' ? 1.15 : 1 / 1.15;
  } else {
    return;
  }
  event.preventDefault();
  offset.setFromSpherical(spherical).applyQuaternion(new THREE.Quaternion().setFromUnitVectors(
    new THREE.Vector3(0, 1, 0), camera.up));
  camera.position.copy(controls.target).add(offset);
  controls.update();
}

function draw() {
  if (!view) return;
  const {renderer, scene, camera} = view;
  const canvas = renderer.domElement;
  const width = canvas.clientWidth, height = canvas.clientHeight;
  if (canvas.width !== Math.floor(width * renderer.getPixelRatio())) {
    renderer.setSize(width, height, false);
    camera.aspect = width / height;
    camera.updateProjectionMatrix();
  }
  renderer.render(scene, camera);
  if (view.model && !performance.getEntriesByName('thingapp-preview-drawn').length) {
    performance.mark('thingapp-preview-drawn'); // the benchmark times sign-in to this
  }
}

// Show the model in `glb` (an ArrayBuffer) in `canvas`; resolves once a frame is drawn. The
// model stands on the origin: its footprint centred, its base at z = 0.
export async function showModel(canvas, glb) {
  await load();
  if (!view || view.renderer.domElement !== canvas) setUp(canvas);
  const {THREE, GLTFLoader} = three;
  const gltf = await new GLTFLoader().parseAsync(glb, '');
  if (view.model) view.scene.remove(view.model);
  const inner = gltf.scene;
  inner.traverse((part) => {
    if (part.isMesh) part.material = new THREE.MeshStandardMaterial({color: 0x2f7ee0, roughness: 0.6});
  });
  const box = new THREE.Box3().setFromObject(inner);
  const centre = box.getCenter(new THREE.Vector3());
  inner.position.set(-centre.x, -centre.y, -box.min.z);
  const model = new THREE.Group();
  model.add(inner);
  view.scene.add(model);
  view.model = model;
  frame(view.shown || {});
}

// Show the model at `scale` (the tool's result: 1 is the model as it is), on a printer bed of
// `bed` millimetres (X, Y, Z) when given, so the size change shows against it.
export function frame({scale = 1, bed = null} = {}) {
  if (!view) return;
  view.shown = {scale, bed};
  if (!view.model) return;
  const {THREE} = three;
  view.model.scale.setScalar(scale);
  if (view.bed) view.scene.remove(view.bed);
  view.bed = null;
  const all = new THREE.Box3().setFromObject(view.model);
  if (bed) {
    const [x, y, z] = bed;
    const outline = new THREE.LineSegments(new THREE.EdgesGeometry(new THREE.BoxGeometry(x, y, z)),
                                           new THREE.LineBasicMaterial({color: 0x767f8f}));
    outline.position.set(0, 0, z / 2);
    const plate = new THREE.Mesh(new THREE.PlaneGeometry(x, y),
                                 new THREE.MeshBasicMaterial({color: 0xdde2ea}));
    view.bed = new THREE.Group();
    view.bed.add(outline, plate);
    view.scene.add(view.bed);
    // The model as it is fills the view; the result is framed with the whole bed around it.
    if (scale !== 1) {
      all.union(new THREE.Box3(new THREE.Vector3(-x / 2, -y / 2, 0), new THREE.Vector3(x / 2, y / 2, z)));
    }
  }
  const centre = all.getCenter(new THREE.Vector3());
  const radius = all.getSize(new THREE.Vector3()).length() / 2 || 1;
  view.controls.target.copy(centre);
  view.camera.position.copy(centre).add(new THREE.Vector3(radius * 1.3, -radius * 1.8, radius * 1.1));
  view.camera.near = radius / 100;
  view.camera.far = radius * 100;
  view.camera.updateProjectionMatrix();
  view.controls.update();
  draw();
}
