/* The import check's map: a row of the report's table, clicked, is shown on the map with
   its popup. `rows` is the Leaflet GeoJSON layer of the file's drawn rows; a row of the table
   whose row is not drawn (no geometry, or beyond what is drawn) stays plain. */
function landledgerImportCheck(map, rows) {
  "use strict";
  // The map's script runs where the map is, above the table.
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () {
      landledgerImportCheck(map, rows);
    });
    return;
  }
  const drawn = new Map();
  rows.eachLayer(function (layer) {
    drawn.set(String(layer.feature.properties.row), layer);
  });
  const table = document.getElementById("import-findings");
  if (!table) {
    return;
  }
  let selected = null; // the row last shown from the table, drawn heavier and on top
  table.querySelectorAll("tr[data-row]").forEach(function (line) {
    const layer = drawn.get(line.dataset.row);
    if (!layer) {
      return;
    }
    line.classList.add("on-map");
    line.title = table.dataset.onMapTitle || "";
    line.addEventListener("click", function () {
      const centre = layer.getBounds ? layer.getBounds().getCenter() : layer.getLatLng();
      if (layer.getBounds) {
        map.fitBounds(layer.getBounds(), { maxZoom: 19, animate: false });
      } else {
        map.setView(centre, Math.max(map.getZoom(), 18), { animate: false });
      }
      if (selected) {
        rows.resetStyle(selected);
      }
      if (layer.setStyle) {
        layer.setStyle({ weight: 5 });
        layer.bringToFront();
      }
      selected = layer;
      // As a click on the row would: the popup is bound to the layer group (by folium), so
      // the click must reach the group (propagate), which opens it for the row clicked.
      layer.fire("click", { latlng: centre }, true);
      document.getElementById("map-frame").scrollIntoView({ block: "nearest" });
    });
  });
}
