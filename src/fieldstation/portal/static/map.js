// The project's map: the shipped basemap (Natural Earth land and borders, no network needed), an optional
// tile source over it, every individual's track in its colour with its last fix ringed, and new fixes live.
"use strict";
(function () {
  const element = document.getElementById("map");
  const status = document.getElementById("map-status");
  const legend = document.getElementById("legend");
  const started = performance.now();
  const map = L.map(element, { preferCanvas: true, worldCopyJump: true, zoomSnap: 0.25 }).setView([0, 20], 3);
  window.fieldstationMap = map; // for the browser tests, and for a look from the console
  map.createPane("basemap").style.zIndex = 150; // under any tiles: when they cannot load, it shows
  const tracks = new Map(); // device id -> {colour, line, last, count, item}
  let fields = [];
  let palette = ["#e6194b"]; // the hub's, with the tracks: a collar that appears live takes the next colour
  let bounds = null;

  if (element.dataset.tiles) {
    L.tileLayer(element.dataset.tiles, { attribution: element.dataset.attribution, maxZoom: 19 }).addTo(map);
  }
  map.attributionControl.addAttribution("Natural Earth");

  async function json(url) {
    const response = await fetch(url, { credentials: "same-origin" });
    if (!response.ok) {
      throw new Error(`${url}: ${response.status}`);
    }
    return response.json();
  }

  // A ring or line that crosses the antimeridian (Fiji, Chukotka) jumps from 180° to -180°, which Leaflet
  // draws as a stroke across the whole world: its western half is moved past 180° instead.
  function unwrap(ring) {
    if (!ring.some((c) => c[0] > 170) || !ring.some((c) => c[0] < -170)) {
      return ring;
    }
    return ring.map(([lon, lat]) => [lon < 0 ? lon + 360 : lon, lat]);
  }

  function unwrapped(geometry) {
    switch (geometry.type) {
      case "Polygon":
      case "MultiLineString":
        return { ...geometry, coordinates: geometry.coordinates.map(unwrap) };
      case "MultiPolygon":
        return { ...geometry, coordinates: geometry.coordinates.map((polygon) => polygon.map(unwrap)) };
      case "LineString":
        return { ...geometry, coordinates: unwrap(geometry.coordinates) };
      case "GeometryCollection":
        return { ...geometry, geometries: geometry.geometries.map(unwrapped) };
      default:
        return geometry;
    }
  }

  async function drawBasemap() {
    const [land, countries] = await Promise.all([json(element.dataset.land), json(element.dataset.basemap)]);
    // Antarctica's ring runs along the pole, which Web Mercator cannot draw: clamped to the map's edge.
    const clamped = (c) => L.latLng(Math.max(-85, Math.min(85, c[1])), c[0]);
    const shores = topojson.feature(land, land.objects.land);
    L.geoJSON(shores.features.map((f) => ({ ...f, geometry: unwrapped(f.geometry) })), {
      pane: "basemap", interactive: false, coordsToLatLng: clamped,
      style: { color: "#6f8f86", weight: 1, fillColor: "#eef0e6", fillOpacity: 1 },
    }).addTo(map);
    const borders = unwrapped(topojson.mesh(countries, countries.objects.countries, (a, b) => a !== b));
    L.geoJSON(borders, {
      pane: "basemap", interactive: false, style: { color: "#9aa8a3", weight: 0.8, dashArray: "3 3" },
    }).addTo(map);
    document.body.dataset.basemap = "drawn";
  }

  function when(seconds) {
    return new Date(seconds * 1000).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
  }

  function popup(track, row, error) {
    const [time, lat, lon, ...values] = row;
    const units = { voltage: " V", temperature_c: " °C", speed_kph: " km/h", battery_percentage: " %" };
    const digits = { voltage: 2, temperature_c: 1, speed_kph: 1, battery_percentage: 0 };
    const names = { voltage: "Battery", temperature_c: "Temperature", speed_kph: "Speed", battery_percentage: "Battery %" };
    const list = document.createElement("dl");
    list.className = "fix-popup";
    const add = (name, value) => {
      const term = document.createElement("dt");
      term.textContent = name;
      const detail = document.createElement("dd");
      detail.textContent = value;
      list.append(term, detail);
    };
    add("Individual", track.name);
    add("Time", when(time));
    add("Position", `${lat.toFixed(5)}, ${lon.toFixed(5)}`);
    fields.forEach((field, i) => {
      if (values[i] !== null && values[i] !== undefined) {
        const value = typeof values[i] === "number" ? values[i].toFixed(digits[field] ?? 2) : values[i];
        add(names[field] || field, `${value}${units[field] || ""}`);
      }
    });
    if (error) {
      add("Error", error);
    }
    return list;
  }

  function addFix(track, row, error) {
    const point = [row[1], row[2]];
    track.line.addLatLng(point);
    L.circleMarker(point, { radius: 3, weight: 1, color: track.colour, fillOpacity: 0.8 })
      .bindPopup(() => popup(track, row, error))
      .addTo(map);
    track.last.setLatLng(point).bindPopup(() => popup(track, row, error));
    track.count += 1;
    track.item.querySelector(".count").textContent = `${track.count} fixes`;
    bounds = bounds ? bounds.extend(point) : L.latLngBounds([point, point]);
  }

  function addTrack(device) {
    const item = document.createElement("li");
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.style.background = device.colour;
    const link = document.createElement("a");
    link.href = device.url || "#";
    link.textContent = device.name;
    const count = document.createElement("span");
    count.className = "hint count";
    item.append(swatch, link, count);
    legend.append(item);
    const track = {
      name: device.name, colour: device.colour, count: 0, item,
      line: L.polyline([], { color: device.colour, weight: 2, opacity: 0.85 }).addTo(map),
      last: L.circleMarker([0, 0], { radius: 8, weight: 3, color: device.colour, fill: false }),
    };
    tracks.set(device.id, track);
    device.fixes.forEach((row) => addFix(track, row, null));
    if (device.fixes.length) {
      track.last.addTo(map);
    }
    return track;
  }

  async function drawTracks() {
    const body = await json(element.dataset.tracks);
    fields = body.fields;
    palette = body.palette;
    body.devices.forEach(addTrack);
    if (bounds) {
      map.fitBounds(bounds.pad(0.1));
    }
    const fixes = body.devices.reduce((sum, device) => sum + device.fixes.length, 0);
    const drawn = Math.round(performance.now() - started);
    document.body.dataset.tracksDrawn = String(drawn);
    performance.mark("fieldstation-tracks-drawn");
    status.textContent = `${body.devices.length} individuals, ${fixes} fixes (drawn in ${drawn} ms)`;
  }

  function live(delay) {
    const url = new URL(element.dataset.live, location.href);
    url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(url);
    socket.onopen = () => { delay = 1000; document.body.dataset.live = "open"; };
    socket.onmessage = (message) => {
      for (const event of JSON.parse(message.data)) {
        let track = tracks.get(event.device);
        if (!track) {
          track = addTrack({ id: event.device, name: event.name, colour: palette[tracks.size % palette.length], fixes: [] });
        }
        if (event.fix) {
          addFix(track, event.fix, event.error);
          track.last.addTo(map);
          status.textContent = `new fix of ${track.name} at ${when(event.fix[0])}`;
        } else if (event.error) {
          status.textContent = `${track.name}: a reading could not be decoded (${event.error})`;
        }
      }
    };
    socket.onclose = (closed) => {
      document.body.dataset.live = "closed";
      if (closed.code !== 1008) {
        setTimeout(() => live(Math.min(delay * 2, 30000)), delay);
      }
    };
  }

  drawBasemap().catch((error) => { status.textContent = `basemap: ${error.message}`; });
  drawTracks()
    .then(() => live(1000))
    .catch((error) => { status.textContent = `tracks could not be loaded: ${error.message}`; });
})();
