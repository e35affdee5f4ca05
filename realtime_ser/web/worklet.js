// Capture processor: collects the microphone's 128-sample quanta into blocks of about
// 50 ms and posts each block (Float32Array, mono, the context's rate) with its RMS level.
class Capture extends AudioWorkletProcessor {
  constructor() {
    super();
    this.size = Math.round(sampleRate / 20);
    this.block = new Float32Array(this.size);
    this.filled = 0;
  }

  process(inputs) {
    const channel = inputs[0] && inputs[0][0];
    if (!channel) return true;
    let i = 0;
    while (i < channel.length) {
      const n = Math.min(channel.length - i, this.size - this.filled);
      this.block.set(channel.subarray(i, i + n), this.filled);
      this.filled += n;
      i += n;
      if (this.filled === this.size) this.post();
    }
    return true;
  }

  post() {
    let sum = 0;
    for (const v of this.block) sum += v * v;
    const rms = Math.sqrt(sum / this.size);
    this.port.postMessage({ samples: this.block, rms }, [this.block.buffer]);
    this.block = new Float32Array(this.size);
    this.filled = 0;
  }
}

registerProcessor("capture", Capture);
