// Time to first frame in Chromium: the driver of `scripts/bench.sh ttff` (sidecar/benches/ttff.rs
// starts the sidecars and passes their origins and the tokens as JSON on stdin).
//
// For each of `--rounds` rounds, for each sidecar in turn (A/B in one run): one page publishes
// Chromium's fake camera over WHIP. Viewers (RTCPeerConnections in a second page) each POST a
// WHEP offer and wait for the first frame `requestVideoFrameCallback` reports (decoded and
// presented), then leave `--hold-ms` later: `--single` viewers one after another, then
// `--storm` viewers joining evenly within `--storm-secs`. Times are from the POST. In the
// second half of the hold each viewer notes how long its frames waited between arrival and
// presentation (`expectedDisplayTime - receiveTime`): the delay a start on an old keyframe
// would leave.

import { chromium } from 'playwright-core';
import { CHROMIUM, CHROMIUM_ARGS } from '../tests/harness.mjs';

const opts = { single: 20, storm: 100, 'storm-secs': 10, 'hold-ms': 1000, rounds: 2, 'cache-ms': 0 };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i += 2) opts[argv[i].replace(/^--/, '')] = Number(argv[i + 1]);

const input = await new Promise((resolve) => {
  let text = '';
  process.stdin.on('data', (d) => { text += d; });
  process.stdin.on('end', () => resolve(text));
});
const config = JSON.parse(input);

const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });

/** One round on one sidecar: its single joins and its storm, each viewer's timings. */
async function measure(origin) {
  const whip = `${origin}/whip/${config.stream_id}`;
  const whep = `${origin}/whep/${config.stream_id}`;
  const context = await browser.newContext();
  try {
    // A page of the sidecar's origin: loopback is a secure context (the camera), and same-origin.
    const publisher = await context.newPage();
    await publisher.goto(`${origin}/health`);
    await publisher.evaluate(async ({ url, token }) => {
      const media = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480, frameRate: 30 }, audio: true });
      const pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle' });
      for (const track of media.getTracks()) pc.addTransceiver(track, { direction: 'sendonly' });
      await pc.setLocalDescription(await pc.createOffer());
      const res = await fetch(url, {
        method: 'POST', headers: { 'content-type': 'application/sdp', authorization: `Bearer ${token}` }, body: pc.localDescription.sdp,
      });
      if (res.status !== 201) throw new Error(`WHIP: ${res.status} ${await res.text()}`);
      await pc.setRemoteDescription({ type: 'answer', sdp: await res.text() });
      await new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error('the publisher did not connect')), 15000);
        pc.addEventListener('connectionstatechange', () => {
          if (pc.connectionState === 'connected') { clearTimeout(t); resolve(); }
        });
      });
      window.publisher = pc;
    }, { url: whip, token: config.publish_token });
    // Let the encoder ramp up and the SFU see a few frames before the first viewer.
    await publisher.waitForTimeout(3000);

    const viewers = await context.newPage();
    await viewers.goto(`${origin}/health`);
    await viewers.evaluate(() => {
      /** One viewer: resolves to its timings (ms from the POST), or `{error}`. */
      window.join = async (url, token, holdMs) => {
        const pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle' });
        pc.addTransceiver('audio', { direction: 'recvonly' });
        pc.addTransceiver('video', { direction: 'recvonly' });
        const video = document.createElement('video');
        video.muted = true;
        video.autoplay = true;
        video.playsInline = true;
        video.width = 160;
        document.body.append(video);
        const t = {};
        let t0 = 0;
        // Arrival → presentation of the frames in the second half of the hold.
        const waits = [];
        let measureFrom = Infinity;
        const onFrame = (now, meta) => {
          if (now >= measureFrom && meta.receiveTime) waits.push(meta.expectedDisplayTime - meta.receiveTime);
          video.requestVideoFrameCallback(onFrame);
        };
        const firstFrame = new Promise((resolve) => {
          pc.addEventListener('track', (ev) => {
            if (ev.track.kind !== 'video') return;
            video.srcObject = new MediaStream([ev.track]);
            video.play().catch(() => {});
            video.requestVideoFrameCallback((now, meta) => {
              resolve(performance.now());
              onFrame(now, meta);
            });
          });
        });
        pc.addEventListener('connectionstatechange', () => {
          if (pc.connectionState === 'connected') t.connected = performance.now() - t0;
        });
        await pc.setLocalDescription(await pc.createOffer());
        t0 = performance.now();
        let location = null;
        try {
          const res = await fetch(url, {
            method: 'POST', headers: { 'content-type': 'application/sdp', authorization: `Bearer ${token}` }, body: pc.localDescription.sdp,
          });
          const sdp = await res.text();
          if (res.status !== 201) return { error: `WHEP ${res.status} ${sdp.trim()}` };
          t.answer = performance.now() - t0;
          location = res.headers.get('location');
          await pc.setRemoteDescription({ type: 'answer', sdp });
          const timeout = new Promise((resolve) => setTimeout(() => resolve(null), 10000));
          const at = await Promise.race([firstFrame, timeout]);
          if (at === null) return { error: 'no frame within 10 s', ...t };
          t.frame = at - t0;
          measureFrom = at + holdMs / 2;
          await new Promise((r) => setTimeout(r, holdMs));
          if (waits.length) {
            waits.sort((a, b) => a - b);
            t.delay = waits[Math.floor(waits.length / 2)];
          }
          return t;
        } finally {
          pc.close();
          video.remove();
          if (location) {
            fetch(new URL(location, url), { method: 'DELETE', headers: { authorization: `Bearer ${token}` } }).catch(() => {});
          }
        }
      };
    });

    const tokens = config.watch_tokens;
    let next = 0;
    const single = [];
    for (let i = 0; i < opts.single; i++) {
      single.push(await viewers.evaluate(([u, tk, h]) => window.join(u, tk, h), [whep, tokens[next++], opts['hold-ms']]));
      await viewers.waitForTimeout(500);
    }
    const stormTokens = tokens.slice(next, next + opts.storm);
    const storm = await viewers.evaluate(async ([u, list, spreadMs, holdMs]) => {
      const gap = list.length > 1 ? spreadMs / list.length : 0;
      return Promise.all(list.map((tk, i) => new Promise((r) => setTimeout(r, i * gap)).then(() => window.join(u, tk, holdMs))));
    }, [whep, stormTokens, opts['storm-secs'] * 1000, opts['hold-ms']]);
    const stats = await fetch(`${origin}/media/stats`).then((r) => r.json()).catch(() => null);
    const keyframeRequests = (stats?.rooms ?? []).reduce((n, r) => n + (r.publisher?.keyframe_requests ?? 0), 0);
    return { single, storm, keyframeRequests };
  } finally {
    await context.close();
  }
}

const q = (runs, key, p) => {
  const v = runs.filter((r) => !r.error).map((r) => r[key]).filter((x) => typeof x === 'number').sort((a, b) => a - b);
  if (!v.length) return null;
  return Math.round(v[Math.min(v.length - 1, Math.round((v.length - 1) * p))]);
};
const report = (name, runs) => {
  const ok = runs.filter((r) => !r.error);
  const line = (key) => `${q(runs, key, 0.5)}/${q(runs, key, 0.95)}/${q(runs, key, 1)}`;
  const errors = runs.filter((r) => r.error).map((r) => r.error);
  console.log(`  ${name}: ${runs.length} viewers, ${ok.length} with a frame; ms p50/p95/max: `
    + `answer ${line('answer')}, connected ${line('connected')}, first frame ${line('frame')}, `
    + `arrival→display ${line('delay')}`
    + (errors.length ? `; failures: ${[...new Set(errors)].join(' | ')}` : ''));
  return { viewers: runs.length, ok: ok.length, p50: q(runs, 'frame', 0.5), p95: q(runs, 'frame', 0.95), delay_p50: q(runs, 'delay', 0.5) };
};

try {
  console.log(`ttff: ${opts.rounds} rounds over ${config.targets.map((t) => `${t.name} (cache ${t.cache_ms} ms)`).join(', ')}; `
    + `single ${opts.single} one at a time; storm ${opts.storm} within ${opts['storm-secs']} s; each held ${opts['hold-ms']} ms`);
  const all = Object.fromEntries(config.targets.map((t) => [t.name, { single: [], storm: [], keyframeRequests: 0 }]));
  for (let round = 1; round <= opts.rounds; round++) {
    for (const target of config.targets) {
      const r = await measure(target.origin);
      console.log(`round ${round}, ${target.name}: the publisher was asked for ${r.keyframeRequests} keyframes`);
      report('single joins', r.single);
      report('storm', r.storm);
      all[target.name].single.push(...r.single);
      all[target.name].storm.push(...r.storm);
      all[target.name].keyframeRequests += r.keyframeRequests;
    }
  }
  const result = {};
  for (const [name, runs] of Object.entries(all)) {
    console.log(`all rounds, ${name} (${runs.keyframeRequests} keyframes asked for):`);
    result[name] = { single: report('single joins', runs.single), storm: report('storm', runs.storm), keyframe_requests: runs.keyframeRequests };
  }
  console.log(JSON.stringify(result));
} finally {
  await browser.close();
}
