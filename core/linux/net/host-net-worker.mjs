// The host side of the guest's TCP sockets: a worker thread that owns real Node sockets on
// loopback. The simulator runs synchronously on the main thread; it talks to this worker
// through a MessagePort it reads with receiveMessageOnPort(), and sleeps in Atomics.wait() on
// `signal` when every CPU is idle. So a guest blocked in accept() or epoll_wait() leaves the
// simulator waiting the way an idle machine waits for an interrupt, while the host's event loop
// (here) keeps the connections going. Plain JavaScript: workers are not run through tsx.
//
// Commands (main → worker) and events (worker → main) are described in host-net.ts.
import dgram from 'node:dgram';
import net from 'node:net';
import { workerData } from 'node:worker_threads';

const { port, signal } = workerData;
const servers = new Map();
const sockets = new Map();
const datagrams = new Map();
let nextAccepted = -1; // ids the worker gives accepted connections: negative, the main's are positive

function post(msg, transfer) {
  port.postMessage(msg, transfer);
  Atomics.add(signal, 0, 1);
  Atomics.notify(signal, 0);
}

function errno(e) {
  return typeof e?.code === 'string' ? e.code : 'EIO';
}

function watch(id, s) {
  sockets.set(id, s);
  s.on('data', (b) => {
    const data = new Uint8Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
    post({ ev: 'data', id, data }, [data.buffer]);
  });
  s.on('end', () => post({ ev: 'end', id }));
  s.on('error', (e) => post({ ev: 'error', id, code: errno(e) }));
  s.on('close', () => {
    sockets.delete(id);
    post({ ev: 'closed', id });
  });
}

function addr(s, remote) {
  const a = remote ? s.remoteAddress : s.localAddress;
  const p = remote ? s.remotePort : s.localPort;
  return { host: typeof a === 'string' ? a.replace(/^::ffff:/, '') : '127.0.0.1', port: p ?? 0 };
}

port.on('message', (m) => {
  switch (m.op) {
    case 'listen': {
      const srv = net.createServer({ allowHalfOpen: true, noDelay: true });
      srv.on('connection', (s) => {
        const id = nextAccepted--;
        s.setNoDelay(true);
        post({ ev: 'accept', id: m.id, conn: id, local: addr(s, false), remote: addr(s, true) });
        watch(id, s);
      });
      srv.once('error', (e) => post({ ev: 'listened', id: m.id, code: errno(e), port: 0 }));
      srv.listen({ host: m.host, port: m.port, backlog: m.backlog, exclusive: true }, () => {
        servers.set(m.id, srv);
        post({ ev: 'listened', id: m.id, code: '', port: srv.address().port });
      });
      break;
    }
    case 'closeServer': {
      const srv = servers.get(m.id);
      servers.delete(m.id);
      if (srv !== undefined) srv.close();
      break;
    }
    case 'connect': {
      const s = net.connect({ host: m.host, port: m.port, noDelay: true, allowHalfOpen: true });
      s.once('connect', () => post({ ev: 'connected', id: m.id, local: addr(s, false), remote: addr(s, true) }));
      watch(m.id, s);
      break;
    }
    case 'write': {
      const s = sockets.get(m.id);
      const n = m.data.byteLength;
      if (s === undefined || s.destroyed) post({ ev: 'written', id: m.id, n });
      else s.write(m.data, () => post({ ev: 'written', id: m.id, n }));
      break;
    }
    case 'end': {
      const s = sockets.get(m.id);
      if (s !== undefined) s.end();
      break;
    }
    case 'close': {
      const s = sockets.get(m.id);
      if (s === undefined) break;
      // A close with unread data resets the connection, as Linux does (tcp_close sends RST).
      if (m.reset) s.resetAndDestroy();
      else {
        s.end();
        s.setTimeout(5000, () => s.destroy());
      }
      break;
    }
    case 'shutdown': {
      // The machine is done: flush what the guest wrote, then say so (host-net.ts waits for it).
      for (const srv of servers.values()) srv.close();
      servers.clear();
      for (const u of datagrams.values()) u.close();
      datagrams.clear();
      const open = [...sockets.values()].filter((s) => !s.destroyed);
      let left = open.length;
      const done = () => post({ ev: 'down', id: 0 });
      if (left === 0) done();
      const timer = setTimeout(() => { for (const s of open) s.destroy(); done(); left = -1; }, m.timeoutMs);
      for (const s of open) {
        s.once('close', () => { if (--left === 0) { clearTimeout(timer); done(); } });
        s.end();
      }
      break;
    }
    case 'udpBind': {
      const u = dgram.createSocket({ type: 'udp4', reuseAddr: false });
      u.once('error', (e) => post({ ev: 'udpBound', id: m.id, code: errno(e), port: 0 }));
      u.bind({ address: m.host, port: m.port, exclusive: true }, () => {
        u.removeAllListeners('error');
        u.on('error', (e) => post({ ev: 'error', id: m.id, code: errno(e) }));
        u.on('message', (msg, rinfo) => {
          const data = new Uint8Array(msg.buffer.slice(msg.byteOffset, msg.byteOffset + msg.byteLength));
          post({ ev: 'datagram', id: m.id, data, from: { host: rinfo.address, port: rinfo.port } }, [data.buffer]);
        });
        datagrams.set(m.id, u);
        post({ ev: 'udpBound', id: m.id, code: '', port: u.address().port });
      });
      break;
    }
    case 'udpSend':
      datagrams.get(m.id)?.send(m.data, m.port, m.host);
      break;
    case 'udpClose': {
      const u = datagrams.get(m.id);
      datagrams.delete(m.id);
      u?.close();
      break;
    }
    case 'pause':
      sockets.get(m.id)?.pause();
      break;
    case 'resume':
      sockets.get(m.id)?.resume();
      break;
  }
});
