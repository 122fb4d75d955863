// A webhook receiver for trying hookd: it verifies each delivery's
// Standard Webhooks signature with the official library, prints the
// events, and answers 200 (400 when the signature does not verify).
//   npm install standardwebhooks
//   WEBHOOK_SECRET=whsec_... node docs/receiver.mjs     (listens on 127.0.0.1:9000)
import http from "node:http";
import { Webhook } from "standardwebhooks";

const wh = new Webhook(process.env.WEBHOOK_SECRET);
http.createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    const body = Buffer.concat(chunks).toString("utf8");
    try {
      const payload = wh.verify(body, req.headers);
      // maxBatchSize 1: the event itself; above 1: {"batchId", "events": [...]}.
      for (const e of payload.events ?? [payload]) {
        console.log(`verified ${req.headers["webhook-id"]} ${e.type} ${JSON.stringify(e.data)}`);
      }
      res.writeHead(200).end();
    } catch (err) {
      console.log(`REJECTED ${req.headers["webhook-id"]}: ${err.message}`);
      res.writeHead(400).end();
    }
  });
}).listen(9000, "127.0.0.1", () => console.log("receiver listening on http://127.0.0.1:9000"));
