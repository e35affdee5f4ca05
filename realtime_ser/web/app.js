// Browser microphone client of realtime_ser.serve: audio in binary frames at the
// AudioContext's rate (the server resamples), events drawn as they come.
// URL options: ?autostart=1 starts at once; &seconds=N sends eof after N s of audio.
"use strict";

const COLOURS = { anger: "#d62728", happiness: "#f2a900", neutral: "#7f7f7f", sadness: "#1f77b4",
                  fear: "#9467bd", disgust: "#2ca02c", boredom: "#8c564b" };
const TIMELINE_S = 30;
const params = new URLSearchParams(location.search);
const $ = (id) => document.getElementById(id);

// Everything the page saw, for tests and curious users (window.serState).
const state = { counts: {}, maxLevel: 0, latencies: [], segments: [], utterance: null, error: null,
                sentSeconds: 0, rate: null, closed: null };
window.serState = state;

let ctx = null, ws = null, source = null, node = null, stream = null;
let sends = [];   // [audio end (s), performance.now()] of each block sent

function colour(emotion) { return COLOURS[emotion] || "#444"; }

function setStatus(text) { $("status").textContent = text; }

async function start() {
  $("start").disabled = true;
  setStatus("asking for the microphone");
  stream = await navigator.mediaDevices.getUserMedia(
    { audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false } });
  ctx = new AudioContext();
  await ctx.audioWorklet.addModule("worklet.js");
  source = ctx.createMediaStreamSource(stream);
  node = new AudioWorkletNode(ctx, "capture");
  state.rate = ctx.sampleRate;
  $("rate").textContent = `rate: ${ctx.sampleRate} Hz`;
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  ws = new WebSocket(`${scheme}://${location.host}/ws`);
  ws.binaryType = "arraybuffer";
  ws.onopen = () => {
    ws.send(JSON.stringify({ sample_rate: ctx.sampleRate, format: "f32le", channels: 1,
                             partials: true, source: "browser" }));
    node.port.onmessage = (m) => onAudio(m.data);
    source.connect(node);
    setStatus("streaming");
    $("stop").disabled = false;
  };
  ws.onmessage = (m) => onEvent(JSON.parse(m.data));
  ws.onclose = (e) => {
    state.closed = { code: e.code, reason: e.reason };
    setStatus(`closed (${e.code}${e.reason ? ": " + e.reason : ""})`);
    release();
  };
}

function onAudio({ samples, rms }) {
  if (!ws || ws.readyState !== WebSocket.OPEN || state.eofSent) return;
  ws.send(samples.buffer);
  state.sentSeconds += samples.length / ctx.sampleRate;
  sends.push([state.sentSeconds, performance.now()]);
  if (sends.length > 2000) sends = sends.slice(-1000);
  state.maxLevel = Math.max(state.maxLevel, rms);
  const level = Math.min(1, rms * 5);
  $("level").style.width = `${100 * level}%`;
  $("levelValue").textContent = rms.toFixed(3);
  const limit = Number(params.get("seconds") || 0);
  if (limit && state.sentSeconds >= limit) stop();
}

function stop() {
  if (!ws || state.eofSent) return;
  state.eofSent = true;
  if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ eof: true }));
  $("stop").disabled = true;
  setStatus("finishing");
}

function release() {
  if (source) source.disconnect();
  if (stream) stream.getTracks().forEach((t) => t.stop());
  if (ctx) ctx.close();
  source = null; stream = null; ctx = null;
}

function onEvent(e) {
  state.counts[e.type] = (state.counts[e.type] || 0) + 1;
  if (e.type === "ready") makeBars(e.labels);
  if (e.type === "partial" || e.type === "segment" || e.type === "utterance") showScores(e.scores);
  if (e.type === "spike" || e.type === "partial") showCurrent(e.emotion);
  if (e.type === "spike") noteLatency(e.time + 0.01);
  if (e.type === "partial") noteLatency(e.end);
  if (e.type === "segment") { state.segments.push(e); drawTimeline(); }
  if (e.type === "utterance") {
    state.utterance = e;
    $("utterance").textContent = `utterance: ${e.emotion ?? "no speech"} (${e.end.toFixed(1)} s)`;
    showCurrent(e.emotion ?? "no speech");
  }
  if (e.type === "error") { state.error = e.error; setStatus(`error: ${e.error}`); }
}

function makeBars(labels) {
  const bars = $("bars");
  bars.innerHTML = "";
  for (const label of labels) {
    const row = document.createElement("div");
    row.className = "row";
    row.innerHTML = `<span class="name">${label}</span><div class="track"><div class="fill" id="bar-${label}"
      style="background:${colour(label)}"></div></div><span class="value" id="val-${label}">0.00</span>`;
    bars.appendChild(row);
  }
}

function showScores(scores) {
  for (const [label, p] of Object.entries(scores || {})) {
    const bar = $(`bar-${label}`);
    if (!bar) continue;
    bar.style.width = `${100 * p}%`;
    $(`val-${label}`).textContent = p.toFixed(2);
  }
}

function showCurrent(emotion) {
  const el = $("current");
  el.textContent = emotion;
  el.style.color = colour(emotion);
}

// Latency: now minus when the block holding the event's audio was sent.
function noteLatency(audioTime) {
  const hit = sends.find(([end]) => end >= audioTime - 1e-6);
  if (!hit) return;
  const ms = performance.now() - hit[1];
  state.latencies.push(ms);
  const recent = state.latencies.slice(-50).sort((a, b) => a - b);
  $("latency").textContent = `latency: ${ms.toFixed(0)} ms (median ${recent[recent.length >> 1].toFixed(0)} ms)`;
}

function drawTimeline() {
  const canvas = $("timeline");
  const g = canvas.getContext("2d");
  const w = canvas.width, h = canvas.height;
  const right = Math.max(TIMELINE_S, state.sentSeconds);
  const left = right - TIMELINE_S;
  const x = (t) => ((t - left) / TIMELINE_S) * w;
  g.clearRect(0, 0, w, h);
  g.fillStyle = "#888";
  g.font = "11px sans-serif";
  for (let t = Math.ceil(left / 5) * 5; t <= right; t += 5) g.fillText(`${t}s`, x(t) + 2, h - 3);
  for (const s of state.segments) {
    if (s.end < left) continue;
    g.fillStyle = colour(s.emotion);
    g.fillRect(x(s.start), 8, Math.max(2, x(s.end) - x(s.start)), h - 28);
  }
}

$("start").onclick = () => start().catch((err) => { state.error = String(err); setStatus(`error: ${err}`); });
$("stop").onclick = stop;
setInterval(drawTimeline, 500);
if (params.get("autostart")) $("start").click();
