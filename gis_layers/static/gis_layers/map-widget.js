// Starts the admin's map widgets (gis/landledger-map-widget.html) from their JSON options:
// the same as Django's inline script, which the Content-Security-Policy would block.
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("[data-map-widget-options]").forEach((wrapper) => {
    const options = JSON.parse(document.getElementById(wrapper.dataset.mapWidgetOptions).textContent);
    // The basemap URL is Leaflet's, whose {s} stands for each of the subdomains in turn;
    // OpenLayers takes the URLs it makes and uses them in turn likewise.
    const urls = options.basemap_url.includes("{s}")
      ? Array.from(options.basemap_subdomains, (subdomain) => options.basemap_url.replace("{s}", subdomain))
      : [options.basemap_url];
    options.base_layer = options.basemap_url
      ? new ol.layer.Tile({
          source: new ol.source.XYZ({ urls: urls, attributions: options.basemap_attribution }),
        })
      : // Plain mode: no basemap, nothing fetched from outside (works offline).
        new ol.layer.Vector({ source: new ol.source.Vector() });
    window[options.module] = new MapWidget(options);
  });
});
