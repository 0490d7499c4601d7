/* The planners' map: vector-tile layers over the folium/Leaflet map, hover highlight,
   popups from the server (so the user's role decides what they show), search, a legend,
   the register as of a date, and what changed between two dates.
   Exposes window.landledger for the page's own checks. */
// Leaflet.VectorGrid 1.3 calls L.DomEvent.fakeStop, which Leaflet 1.8 removed; it marked the
// DOM event as handled so that the map does not treat a click on a feature as its own.
if (!L.DomEvent.fakeStop) {
  L.DomEvent.fakeStop = function (event) {
    event._stopped = true;
    return this;
  };
}

function landledgerMap(map, config) {
  "use strict";
  // drawn: features styled per layer; statuses: of those, how many of each status (the
  // analysis layers), for the page's own checks.
  const state = { asOf: null, layers: {}, drawn: {}, statuses: {}, changes: null };
  window.landledger = { map: map, state: state };

  // Shelters: the marker's shape says the type, its fill the condition (config.shelterColours).
  // Outlines in a 20 by 20 box; a type the map does not know yet is drawn as a diamond.
  const shelterShapes = {
    personnel: '<circle cx="10" cy="10" r="7.5"/>',
    command: '<polygon points="10,1 12.6,7.3 19.4,7.6 14.1,11.9 15.9,18.5 10,14.7 4.1,18.5 5.9,11.9 0.6,7.6 7.4,7.3"/>',
    medical: '<path d="M7 1.5h6v5.5h5.5v6H13v5.5H7V13H1.5V7H7z"/>',
    professional: '<polygon points="10,1.5 18.8,17.5 1.2,17.5"/>',
    support: '<rect x="2.5" y="2.5" width="15" height="15"/>',
  };
  const unknownShape = '<polygon points="10,1 19,10 10,19 1,10"/>';
  function shapeImage(type, colour) {
    const svg = '<svg xmlns="http://www.w3.org/2000/svg" width="20" height="20" viewBox="0 0 20 20">'
      + '<g fill="' + colour + '" stroke="#fff" stroke-width="1.5" stroke-linejoin="round">'
      + (shelterShapes[type] || unknownShape) + "</g></svg>";
    return "data:image/svg+xml;charset=utf-8," + encodeURIComponent(svg);
  }
  const shelterIcons = {};
  function shelterIcon(type, condition) {
    const key = type + "/" + condition;
    if (!shelterIcons[key]) {
      shelterIcons[key] = L.icon({ iconUrl: shapeImage(type, config.shelterColours[condition] || "#333"), iconSize: [18, 18] });
    }
    return shelterIcons[key];
  }
  const changeColours = { new: "#1a9641", retired: "#d7191c", transferred: "#fdae61" };

  const styleOf = {
    parcels: (p) => ({ fill: true, fillColor: config.landUseColours[String(p.land_use).slice(0, 2)] || "#ccc",
                       fillOpacity: 0.55, color: "#555", weight: 0.6 }),
    buildings: () => ({ fill: true, fillColor: "#8d6e63", fillOpacity: 0.65, color: "#5d4037", weight: 0.5 }),
    // The radius is the area a click or hover finds the marker in: the 18-pixel icon and a
    // pixel around it. Above 10 pixels it must be: for a marker of 10 or less, Leaflet places
    // the event at the marker's own position, which a vector-tile point does not have
    // (a TypeError on every click and hover).
    shelters: (p) => ({ icon: shelterIcon(p.shelter_type, p.condition), radius: 11 }),
    zoning: () => ({ fill: true, fillColor: "#c000c0", fillOpacity: 0.08, color: "#a000a0", weight: 1, dashArray: "4" }),
    conformity: (p) => ({ fill: true, fillOpacity: 0.6, color: "#444", weight: 0.5,
                          fillColor: config.conformityColours[conformityOf(p)] }),
    // No building data: a dashed outline over grey, so that it never reads as an empty (FAR 0) parcel.
    underused: (p) => ({ fill: true, fillColor: config.intensityColours[p.status] || "#ccc",
                         fillOpacity: p.status === "no_limit" ? 0.3 : 0.65,
                         color: p.status === "no_data" ? "#555" : "#444",
                         weight: p.status === "no_data" ? 1.2 : 0.5,
                         dashArray: p.status === "no_data" ? "3 3" : null }),
    // Uncovered people in red, deeper where more live; covered in green where there is a
    // place for everyone and in orange where the shelters in reach are short of places.
    coverage: (p) => ({ fill: true, weight: 0.3, color: "#666",
                        fillColor: p.night <= 0 ? "#ffffff" : (!p.covered ? "#d7191c" : (p.access_night >= 1 ? "#1a9641" : "#fdae61")),
                        fillOpacity: p.night <= 0 ? 0.05 : Math.min(0.85, 0.25 + p.night / 400) }),
    catchments: (p) => ({ fill: true, fillColor: p.load_night > 1 ? "#d7191c" : "#2b83ba", fillOpacity: 0.08,
                          color: p.load_night > 1 ? "#d7191c" : "#2b83ba", weight: p.load_night > 1 ? 2.5 : 1.2 }),
    changes: (p) => ({ fill: true, fillColor: changeColours[p.change],
                       fillOpacity: 0.75, color: "#222", weight: 1 }),
  };
  function conformityOf(p) {
    return p.conforms === true ? "conforming" : (p.conforms === false ? "nonconforming" : "no_plan");
  }
  const highlightStyle = { fill: true, fillColor: "#ffff00", fillOpacity: 0.7, color: "#ff6600", weight: 2, radius: 8 };
  const selectedStyle = { fill: true, fillColor: "#00bcd4", fillOpacity: 0.7, color: "#006064", weight: 2.5, radius: 9 };

  // Features picked for export (shift-click, or click while "select" is on): of one layer at
  // a time, for an export is of one layer. The layers drawn over parcels pick parcels.
  const exportedAs = { parcels: "parcels", buildings: "buildings", shelters: "shelters", zoning: "zoning",
                       conformity: "parcels", underused: "parcels", changes: "parcels" };
  state.selection = { kind: null, ids: [] };
  // Results of one analysis run, and the picking of sites, have nothing to export by feature.
  const selectable = !config.tileQuery && !config.pickInto;
  function styleOfFeature(layer, name, fid) {
    if (exportedAs[name] === state.selection.kind && state.selection.ids.includes(fid)) {
      layer.setFeatureStyle(fid, selectedStyle);
    } else {
      layer.resetFeatureStyle(fid);
    }
  }
  function restyleSelection(fids) {
    Object.keys(state.layers).forEach((name) => {
      if (exportedAs[name]) fids.forEach((fid) => styleOfFeature(state.layers[name], name, fid));
    });
  }
  function toggleSelected(name, fid) {
    const kind = exportedAs[name];
    const before = state.selection.ids.slice();
    if (state.selection.kind !== kind) {
      state.selection = { kind: kind, ids: [] };
    }
    const ids = state.selection.ids;
    if (ids.includes(fid)) {
      ids.splice(ids.indexOf(fid), 1);
    } else if (ids.length >= config.maxSelected) {
      selectionPanel.say(config.text.selectionFull);
      return;
    } else {
      ids.push(fid);
    }
    if (!ids.length) state.selection.kind = null;
    restyleSelection(before.concat([fid]));
    selectionPanel.refresh();
  }

  // The feature each layer highlights under the pointer, and the canvas (tile) whose pointer
  // events did it; state.hovered is the one last highlighted, for the page's own checks.
  const highlights = {};
  state.hovered = null;
  const canvasOf = (event) => (event.originalEvent && event.originalEvent.target) || null;
  function unhighlight(name) {
    const own = highlights[name];
    if (!own) return;
    delete highlights[name];
    styleOfFeature(state.layers[name], name, own.fid);
    if (state.hovered && state.hovered.name === name) state.hovered = null;
  }

  function tileUrl(name) {
    const query = name === "changes"
      ? "?from=" + state.changes.from + "&to=" + state.changes.to
      : (state.asOf ? "?as_of=" + state.asOf : "");
    const extra = config.tileQuery ? (query ? "&" : "?") + config.tileQuery : "";
    return config.tileUrl.replace("__layer__", name) + query + extra;
  }

  function makeLayer(name, label) {
    state.drawn[name] = 0;
    state.statuses[name] = {};
    const styles = {};
    styles[name] = function (properties) {
      state.drawn[name] += 1;
      if (properties.status !== undefined) {
        state.statuses[name][properties.status] = (state.statuses[name][properties.status] || 0) + 1;
      }
      return styleOf[name](properties);
    };
    const layer = L.vectorGrid.protobuf(tileUrl(name), {
      rendererFactory: L.canvas.tile,
      vectorTileLayerStyles: styles,
      interactive: true,
      maxNativeZoom: 20,
      getFeatureId: (feature) => feature.properties.fid,
      fetchOptions: { credentials: "same-origin" },
    });
    layer.on("mouseover", (event) => {
      unhighlight(name);
      const fid = event.layer.properties.fid;
      highlights[name] = { fid: fid, canvas: canvasOf(event) };
      layer.setFeatureStyle(fid, highlightStyle);
      state.hovered = { name: name, fid: fid };
    });
    layer.on("mouseout", (event) => {
      // Only the canvas that highlighted the feature takes the highlight off: a feature
      // spans tiles, and another tile's canvas may have highlighted it since.
      const own = highlights[name];
      if (own && (own.canvas === null || own.canvas === canvasOf(event))) unhighlight(name);
    });
    // A tile unloaded (zoomed, panned, redrawn for another date) or a layer taken off the map
    // hears no pointer leave: its highlight is taken off with it, or new tiles would draw it.
    layer.on("tileunload", (event) => {
      const own = highlights[name];
      if (own && own.canvas === event.tile) unhighlight(name);
    });
    layer.on("remove", () => unhighlight(name));
    layer.on("click", (event) => {
      state.featureClicked = true;
      if (event.originalEvent) event.originalEvent._landledgerTaken = true;
      const selecting = (event.originalEvent && event.originalEvent.shiftKey) || state.selecting;
      if (selectable && selecting && exportedAs[name]) {
        toggleSelected(name, event.layer.properties.fid);
      } else if (config.pickInto) {
        // Picking sites: a click on a feature picks its spot too (the map itself does not
        // see clicks that a feature has taken).
        pickSite(event.latlng);
      } else if (name in localPopups) {
        L.popup({ maxWidth: 320 }).setLatLng(event.latlng).setContent(localPopups[name](event.layer.properties)).openOn(map);
      } else {
        showPopup(["changes", "conformity", "underused"].includes(name) ? "parcels" : name, event);
      }
    });
    state.layers[name] = layer;
    return layer;
  }

  // Coverage results carry all they show: no request to the server. Numbers only, so no
  // text from the data goes into the popup's HTML.
  const number = (value, digits) => (value === null || value === undefined ? "–" : Number(value).toFixed(digits));
  const localPopups = {
    coverage: (p) => "<table class='popup'><tr><th>" + config.text.residents + "</th><td>" + number(p.night, 0)
      + "</td></tr><tr><th>" + config.text.daytime + "</th><td>" + number(p.day, 0)
      + "</td></tr><tr><th>" + config.text.nearest + "</th><td>" + number(p.nearest_m, 0) + " m"
      + "</td></tr><tr><th>" + config.text.placesPerPerson + "</th><td>" + number(p.access_night, 2) + "</td></tr></table>",
    catchments: (p) => "<table class='popup'><tr><th>" + config.text.places + "</th><td>" + number(p.places, 0)
      + "</td></tr><tr><th>" + config.text.catchment + "</th><td>" + number(p.catchment_night, 0)
      + "</td></tr><tr><th>" + config.text.load + "</th><td>" + number(p.load_night, 2) + " / " + number(p.load_day, 2)
      + "</td></tr></table>",
  };

  function pickSite(latlng) {
    const field = document.getElementById(config.pickInto);
    const line = latlng.lng.toFixed(6) + ", " + latlng.lat.toFixed(6);
    field.value = (field.value.trim() ? field.value.trim() + "\n" : "") + line;
    L.circleMarker(latlng, { radius: 7, color: "#000", weight: 2, fillColor: "#ffeb3b", fillOpacity: 0.9 })
      .addTo(map);
  }

  function showPopup(name, event) {
    const url = config.popupUrl.replace("__layer__", name).replace("__fid__", String(event.layer.properties.fid))
      + (state.asOf ? "?as_of=" + state.asOf : "");
    const open = (html) => L.popup({ maxWidth: 320 }).setLatLng(event.latlng).setContent(html).openOn(map);
    // Any answer of the server is its own message (a refusal too); no answer at all is said
    // so, rather than a click that does nothing.
    fetch(url, { credentials: "same-origin" })
      .then((response) => response.text())
      .then(open)
      .catch(() => open(document.createTextNode(config.text.popupFailed)));
  }

  // Every layer draws its tiles on canvases of its own, stacked in the order the layers were
  // added, and the pointer's events reach only the topmost canvas: a parcel under the
  // buildings' and shelters' canvases would never be clicked. A click on a canvas that no
  // feature of it took is handed down to the canvases under the pointer, top first, as a
  // click that does not bubble (so that nothing above sees it twice), until a layer takes it.
  // A click that ends a drag (the map panned) is no click: Leaflet's own handlers ignore it.
  function canvasesBelow(original) {
    return document.elementsFromPoint(original.clientX, original.clientY).filter((element) =>
      element.tagName === "CANVAS" && element !== original.target && map.getContainer().contains(element));
  }
  let pressedAt = null;
  L.DomEvent.on(map.getContainer(), "mousedown", (event) => { pressedAt = [event.clientX, event.clientY]; });
  function dragged(original) {
    return pressedAt !== null
      && Math.hypot(original.clientX - pressedAt[0], original.clientY - pressedAt[1]) > 3;
  }
  function handDown(original) {
    if (!original.isTrusted || original.target.tagName !== "CANVAS" || original._landledgerTaken
        || dragged(original)) return;
    state.featureClicked = false;
    for (const canvas of canvasesBelow(original)) {
      canvas.dispatchEvent(new MouseEvent("click", {
        clientX: original.clientX, clientY: original.clientY, screenX: original.screenX,
        screenY: original.screenY, shiftKey: original.shiftKey, ctrlKey: original.ctrlKey,
        altKey: original.altKey, metaKey: original.metaKey, button: original.button,
        bubbles: false, cancelable: true, view: window,
      }));
      if (state.featureClicked) return;  // a layer took it
    }
  }
  // The pointer's moves are handed down the same way, for the hover highlight: while no
  // feature of the topmost canvas is under the pointer, the canvases beneath it are asked, top
  // first, until one highlights a feature. Only the top canvas hears the pointer leave, so the
  // canvas beneath that highlighted one is told when the pointer is no longer over its feature
  // or it, or has left the map; left alone, its highlight would stay.
  let hoveredBelow = null;
  // The layers whose highlighted feature ``canvas`` lit.
  const litBy = (canvas) => Object.keys(highlights).filter((name) => highlights[name].canvas === canvas);
  function pointerEvent(type, original) {
    return new MouseEvent(type, {
      clientX: original.clientX, clientY: original.clientY, screenX: original.screenX,
      screenY: original.screenY, bubbles: false, cancelable: true, view: window,
    });
  }
  function leaveBelow(original) {
    const canvas = hoveredBelow;
    hoveredBelow = null;
    if (canvas === null) return;
    // A tile taken off the map (zoomed or panned away) has no map left to tell: its layer's
    // highlight is taken off here.
    if (canvas.isConnected) canvas.dispatchEvent(pointerEvent("mouseout", original));
    litBy(canvas).forEach(unhighlight);
  }
  function handDownHover(original) {
    if (!original.isTrusted || map.dragging.moving()) return;
    if (original.target.tagName !== "CANVAS") {
      leaveBelow(original);  // over a popup, a control or the legend: off every feature
      return;
    }
    const below = canvasesBelow(original);
    if (hoveredBelow !== null && !below.includes(hoveredBelow)) leaveBelow(original);
    if (litBy(original.target).length) {
      leaveBelow(original);
      return;
    }
    for (const canvas of below) {
      canvas.dispatchEvent(pointerEvent("mousemove", original));
      if (litBy(canvas).length) {
        if (hoveredBelow !== canvas) leaveBelow(original);
        hoveredBelow = canvas;
        return;
      }
    }
    leaveBelow(original);
  }
  if (!config.pickInto) {
    L.DomEvent.on(map.getContainer(), "mousemove", handDownHover);
    L.DomEvent.on(map.getContainer(), "mouseleave", leaveBelow);
  }

  L.DomEvent.on(map.getContainer(), "click", (original) => {
    // Picking sites: a click anywhere picks its spot, once (a feature's click, or the map's).
    if (config.pickInto) {
      if (original.isTrusted && !original._landledgerTaken && !original._landledgerPicked
          && original.target.tagName === "CANVAS" && !dragged(original)) pickSite(map.mouseEventToLatLng(original));
      return;
    }
    handDown(original);
  });

  const overlays = L.control.layers(null, null, { collapsed: false, position: "topright" }).addTo(map);
  config.layers.forEach((entry) => {
    const layer = makeLayer(entry.name, entry.label);
    overlays.addOverlay(layer, entry.label);
    if (entry.visible) layer.addTo(map);
  });

  // Drawing candidate sites: each click on the map adds "longitude, latitude" to a form's
  // text field and marks the spot.
  if (config.pickInto) {
    map.on("click", (event) => {
      if (event.originalEvent) event.originalEvent._landledgerPicked = true;
      pickSite(event.latlng);
    });
  }

  // Recommended new shelter sites of a coverage run, numbered best first.
  (config.sites || []).forEach(([lat, lon], index) => {
    L.circleMarker([lat, lon], { radius: 9, color: "#000", weight: 2, fillColor: "#ffeb3b", fillOpacity: 0.95 })
      .bindTooltip(String(index + 1), { permanent: true, direction: "center", className: "site-rank" })
      .addTo(map);
  });

  // Legend: the land-use classes while the parcels are on the map, or the page's own.
  const legend = L.control({ position: "bottomright" });
  legend.onAdd = function () {
    const own = Boolean(config.legend);
    const div = L.DomUtil.create("div", "landledger-panel landledger-legend" + (own ? "" : " landledger-land-use-legend"));
    const items = config.legend || config.landUseNames.map(([code, name]) => [config.landUseColours[code] || "#ccc", code + " " + name]);
    div.innerHTML = "<h4>" + (config.legendTitle || config.text.legend) + "</h4>" + items.map(([colour, label]) =>
      '<div><i style="background:' + colour + '"></i>' + label + "</div>").join("");
    return div;
  };
  legend.addTo(map);

  // The legends of the layers on the map that have one (config.legends): colours, and for the
  // shelters the shapes of their types too.
  const coloursOf = {
    conformity: config.conformityColours,
    underused: config.intensityColours,
    shelters: config.shelterColours,
    changes: changeColours,
  };
  function legendOf(name) {
    const legend = config.legends[name];
    const shapes = (legend.shapes || []).map(([key, label]) => '<div data-shape="' + key + '"><img src="'
      + shapeImage(key, "#777") + '" width="14" height="14" alt="">' + label + "</div>").join("");
    return '<div data-legend="' + name + '"><h4>' + legend.title + "</h4>"
      + (shapes ? '<div class="landledger-shapes">' + shapes + "</div>" : "")
      + legend.items.map(([key, label]) => '<div data-key="' + key + '"><i class="' + key + '" style="background:'
        + coloursOf[name][key] + '"></i>' + label + "</div>").join("") + "</div>";
  }
  // A panel with the legends of those of the named layers that are on the map (hidden while
  // none is); its refresh() follows the layers coming and going.
  function legendPanel(names, position, className) {
    const panel = L.control({ position: position });
    panel.onAdd = function () {
      const div = L.DomUtil.create("div", "landledger-panel " + className);
      panel.refresh = function () {
        const shown = names.filter((name) => (config.legends || {})[name] && state.layers[name] && map.hasLayer(state.layers[name]));
        div.style.display = shown.length ? "" : "none";
        div.innerHTML = shown.map(legendOf).join("");
      };
      panel.refresh();
      return div;
    };
    return panel.addTo(map);
  }
  // The analysis layers' and the change view's legends under the land-use legend; the
  // shelters' on the left, for they are on from the start, and on the right they would cover
  // the layer control of a small window.
  const layerLegends = [
    legendPanel(["conformity", "underused", "changes"], "bottomright", "landledger-layer-legend"),
    legendPanel(["shelters"], "bottomleft", "landledger-shelter-legend"),
  ];
  function refreshLegends() {
    const landUse = map.getContainer().querySelector(".landledger-land-use-legend");
    if (landUse) landUse.style.display = state.layers.parcels && map.hasLayer(state.layers.parcels) ? "" : "none";
    layerLegends.forEach((panel) => panel.refresh());
  }
  refreshLegends();
  map.on("overlayadd overlayremove", refreshLegends);

  // Search by unit code, address or holder; flies to the first result.
  const search = L.control({ position: "topleft" });
  search.onAdd = function () {
    const div = L.DomUtil.create("div", "landledger-panel landledger-search");
    div.innerHTML = '<form><input id="map-search" type="search" placeholder="' + config.text.search
      + '"> <button type="submit">' + config.text.go + '</button></form><ul id="map-search-results"></ul>';
    L.DomEvent.disableClickPropagation(div);
    div.querySelector("form").addEventListener("submit", (event) => {
      event.preventDefault();
      const query = div.querySelector("input").value.trim();
      if (!query) return;
      fetch(config.searchUrl + "?q=" + encodeURIComponent(query), { credentials: "same-origin" })
        .then((response) => response.json())
        .then((data) => {
          const list = div.querySelector("ul");
          list.innerHTML = "";
          data.results.forEach((result, index) => {
            const item = document.createElement("li");
            item.textContent = result.label;
            item.addEventListener("click", () => flyTo(result));
            list.appendChild(item);
            if (index === 0) flyTo(result);
          });
          if (!data.results.length) list.innerHTML = "<li>" + config.text.nothing + "</li>";
        });
    });
    return div;
  };
  search.addTo(map);

  // Export what is in view: the export form, with the view's box filled in.
  const exportView = L.control({ position: "topleft" });
  exportView.onAdd = function () {
    const div = L.DomUtil.create("div", "landledger-panel");
    div.innerHTML = '<a id="export-view" href="#">' + config.text.exportView + "</a>";
    div.querySelector("a").addEventListener("click", (event) => {
      event.preventDefault();
      const b = map.getBounds();
      const box = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map((v) => v.toFixed(6)).join(",");
      window.location.href = config.exportUrl + "?bbox=" + box + (state.asOf ? "&as_of=" + state.asOf : "");
    });
    return div;
  };
  exportView.addTo(map);

  // The selection: how many features of which layer, a switch to select by clicking, and
  // the export form opened with the selection (the user picks the format there).
  const selectionPanel = L.control({ position: "topleft" });
  selectionPanel.onAdd = function () {
    const div = L.DomUtil.create("div", "landledger-panel landledger-selection");
    div.innerHTML = '<label><input id="select-mode" type="checkbox"> ' + config.text.selectMode + "</label>"
      + '<div id="selection-summary"></div>'
      + '<span id="selection-actions"><a id="export-selection" href="#">' + config.text.exportSelection + "</a> · "
      + '<a id="clear-selection" href="#">' + config.text.clearSelection + "</a></span>";
    L.DomEvent.disableClickPropagation(div);
    div.querySelector("#select-mode").addEventListener("change", (event) => {
      state.selecting = event.target.checked;
    });
    div.querySelector("#export-selection").addEventListener("click", (event) => {
      event.preventDefault();
      if (!state.selection.ids.length) return;
      window.location.href = config.exportUrl + "?kind=" + state.selection.kind + "&selection_of=" + state.selection.kind
        + "&ids=" + state.selection.ids.join(",") + (state.asOf ? "&as_of=" + state.asOf : "");
    });
    div.querySelector("#clear-selection").addEventListener("click", (event) => {
      event.preventDefault();
      const before = state.selection.ids.slice();
      state.selection = { kind: null, ids: [] };
      restyleSelection(before);
      selectionPanel.refresh();
    });
    selectionPanel.say = function (text) {
      div.querySelector("#selection-summary").textContent = text;
    };
    selectionPanel.refresh = function () {
      const count = state.selection.ids.length;
      const label = (config.layers.find((entry) => entry.name === state.selection.kind) || {}).label || "";
      selectionPanel.say(count ? config.text.selected.replace("%(count)s", count) + " " + label : config.text.selectHint);
      div.querySelector("#selection-actions").hidden = !count;
    };
    selectionPanel.refresh();
    return div;
  };
  if (selectable) selectionPanel.addTo(map);

  function flyTo(result) {
    const [minX, minY, maxX, maxY] = result.bbox;
    map.flyToBounds([[minY, minX], [maxY, maxX]], { maxZoom: 18, duration: 0.6 });
    state.lastSearch = result;
  }

  // The register as of a date, and what changed between two dates.
  const time = L.control({ position: "bottomleft" });
  time.onAdd = function () {
    const div = L.DomUtil.create("div", "landledger-panel landledger-time");
    const days = Math.round((Date.parse(config.today) - Date.parse(config.firstDate)) / 86400000);
    // The change view is offered to the users who may see it: only they get its legend.
    const offersChanges = Boolean((config.legends || {}).changes);
    div.innerHTML = "<h4>" + config.text.asOf + ' <span id="as-of-label">' + config.today + "</span></h4>"
      + '<input id="as-of" type="range" min="0" max="' + days + '" value="' + days + '" step="1">'
      + (offersChanges
        ? "<h4>" + config.text.changes + "</h4>"
          + '<input id="changes-from" type="date" value="' + config.changesFrom + '"> – '
          + '<input id="changes-to" type="date" value="' + config.today + '"> '
          + '<label><input id="changes-on" type="checkbox"> ' + config.text.show + "</label>"
          + '<div id="changes-problem" class="problem" role="alert" hidden></div>'
        : "");
    L.DomEvent.disableClickPropagation(div);
    const slider = div.querySelector("#as-of");
    slider.addEventListener("input", () => {
      const date = new Date(Date.parse(config.firstDate) + Number(slider.value) * 86400000).toISOString().slice(0, 10);
      div.querySelector("#as-of-label").textContent = date;
    });
    slider.addEventListener("change", () => {
      const date = div.querySelector("#as-of-label").textContent;
      state.asOf = date === config.today ? null : date;
      Object.keys(state.layers).forEach((name) => {
        if (name !== "changes") {
          state.drawn[name] = 0;
          state.layers[name].setUrl(tileUrl(name));
        }
      });
    });
    function refreshChanges() {
      if (state.layers.changes) {
        map.removeLayer(state.layers.changes);
        delete state.layers.changes;
      }
      const from = div.querySelector("#changes-from").value;
      const to = div.querySelector("#changes-to").value;
      // Said here, rather than by every tile refusing the dates (400) over an empty map.
      const problem = div.querySelector("#changes-problem");
      const wrong = !from || !to || to < from;
      problem.hidden = !wrong;
      problem.textContent = wrong ? config.text.changesDates : "";
      if (div.querySelector("#changes-on").checked && !wrong) {
        state.changes = { from: from, to: to };
        makeLayer("changes", config.text.changes).addTo(map);
        restyleSelection(state.selection.ids);  // a new layer: its selected parcels marked again
      }
      refreshLegends();
    }
    if (offersChanges) {
      ["#changes-on", "#changes-from", "#changes-to"].forEach((selector) =>
        div.querySelector(selector).addEventListener("change", refreshChanges));
    }
    return div;
  };
  // Results of one analysis run are not a register with a history, and new shelter sites
  // are picked on today's map.
  if (!config.tileQuery && !config.pickInto) time.addTo(map);
}
