// Connects as the seed's example does, `io('http://localhost:1234')`, with socket.io-client 4 or 2, and
// prints every event it receives as a JSON line until it has seen each of `data`, `data_<id>` and `<id>`.
// usage: node listen.js 4|2 URL DEVICE_ID [polling|websocket|default]
const [version, url, deviceId, transport] = process.argv.slice(2);
const io = require(version === "2" ? "socket.io-client-2" : "socket.io-client");
const options = transport === "polling" ? { transports: ["polling"] }
  : transport === "websocket" ? { transports: ["websocket"] } : {};
const socket = io(url, options);
const wanted = new Set(["data", `data_${deviceId}`, deviceId]);
const seen = new Set();
socket.on("connect", () => console.log(JSON.stringify({ event: "connect" })));
for (const name of wanted) {
  socket.on(name, (payload) => {
    console.log(JSON.stringify({ event: name, payload, transport: socket.io.engine.transport.name }));
    seen.add(name);
    if (seen.size === wanted.size) { socket.close(); process.exit(0); }
  });
}
setTimeout(() => { console.log(JSON.stringify({ event: "timeout", seen: [...seen] })); process.exit(1); }, 15000);
