/**
 * A local HTTP receiver on 127.0.0.1 for webhook and ServiceNow tests: records every request
 * (method, path, headers, JSON body) and answers like the real service would.
 */
import * as http from "http";
import type { AddressInfo } from "net";

export interface Received {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: unknown;
}

export interface Receiver {
  url: string;
  requests: Received[];
  /** Answer the next requests with this status (default 200/201). */
  failNext(status: number, count?: number): void;
  close(): Promise<void>;
}

export async function startReceiver(): Promise<Receiver> {
  const requests: Received[] = [];
  let failures: { status: number; left: number } | null = null;
  let nextId = 1;
  const server = http.createServer((req, res) => {
    let data = "";
    req.on("data", (d: Buffer) => (data += d.toString()));
    req.on("end", () => {
      let body: unknown = data;
      try {
        body = data ? JSON.parse(data) : null;
      } catch {
        // kept as text
      }
      requests.push({ method: req.method ?? "", path: req.url ?? "", headers: req.headers, body });
      if (failures && failures.left > 0) {
        failures.left--;
        res.writeHead(failures.status).end();
        return;
      }
      res.setHeader("content-type", "application/json");
      if (req.method === "POST" && req.url?.startsWith("/api/now/table/")) {
        res.writeHead(201).end(JSON.stringify({ result: { sys_id: `sys${nextId++}`, number: `CHG00${nextId}` } }));
      } else if (req.url?.startsWith("/api/now/table/")) {
        res.writeHead(200).end(JSON.stringify({ result: {} }));
      } else {
        res.writeHead(202).end(JSON.stringify({ status: "success", message: "Event processed" }));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    failNext: (status, count = 1) => (failures = { status, left: count }),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
