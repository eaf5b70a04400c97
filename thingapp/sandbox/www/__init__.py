"""The sandbox's www host: Thing pages with the app's iframe, OAuth pages, the bridge."""
