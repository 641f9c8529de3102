// A stand-in for the browser's RTCPeerConnection: its signalling state machine (stable,
// have-local-offer, have-remote-offer, rollback) with no media and no network. It refuses what
// a strict implementation refuses (an offer in have-local-offer: no implicit rollback), so a
// test shows that the client rolls back by itself. link() plays the network: data channels open.

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

function invalidState(message) {
  const error = new Error(message);
  error.name = 'InvalidStateError';
  return error;
}

export class FakeDataChannel extends EventTarget {
  readyState = 'connecting';
  sent = [];
  peer = null; // the other side's channel once linked

  constructor(label) {
    super();
    this.label = label;
  }

  send(data) {
    if (this.readyState !== 'open') throw invalidState('the data channel is not open');
    this.sent.push(data);
    const peer = this.peer;
    setTimeout(() => peer.dispatchEvent(Object.assign(new Event('message'), { data })), 0);
  }

  open() {
    this.readyState = 'open';
    this.dispatchEvent(new Event('open'));
  }
}

let counter = 0;

export class FakeRTCPeerConnection extends EventTarget {
  static instances = [];
  signalingState = 'stable';
  connectionState = 'new';
  iceConnectionState = 'new';
  localDescription = null;
  remoteDescription = null;
  candidates = []; // added with addIceCandidate
  channels = []; // created here
  restarts = 0;
  #offers = 0;

  constructor(configuration) {
    super();
    this.configuration = configuration;
    this.id = ++counter;
    FakeRTCPeerConnection.instances.push(this);
  }

  createDataChannel(label) {
    const channel = new FakeDataChannel(label);
    this.channels.push(channel);
    if (this.channels.length === 1) this.#negotiationNeeded();
    return channel;
  }

  restartIce() {
    this.restarts++;
    this.#negotiationNeeded();
  }

  async setLocalDescription(description) {
    await tick();
    if (description?.type === 'rollback') {
      if (this.signalingState !== 'have-local-offer') throw invalidState(`rollback in ${this.signalingState}`);
      this.signalingState = 'stable';
      this.localDescription = null;
      return;
    }
    if (this.signalingState === 'stable') {
      this.localDescription = { type: 'offer', sdp: `pc${this.id} offer ${++this.#offers} restarts=${this.restarts}` };
      this.signalingState = 'have-local-offer';
    } else if (this.signalingState === 'have-remote-offer') {
      this.localDescription = { type: 'answer', sdp: `pc${this.id} answer to ${this.remoteDescription.sdp}` };
      this.signalingState = 'stable';
    } else {
      throw invalidState(`setLocalDescription in ${this.signalingState}`);
    }
    // Gathering: one host candidate per description.
    setTimeout(() => this.dispatchEvent(Object.assign(new Event('icecandidate'), { candidate: { candidate: `host pc${this.id}`, sdpMid: '0' } })), 0);
  }

  async setRemoteDescription(description) {
    await tick();
    if (description.type === 'offer') {
      if (this.signalingState !== 'stable') throw invalidState(`an offer in ${this.signalingState}`);
      this.signalingState = 'have-remote-offer';
    } else if (description.type === 'answer') {
      if (this.signalingState !== 'have-local-offer') throw invalidState(`an answer in ${this.signalingState}`);
      this.signalingState = 'stable';
    }
    this.remoteDescription = description;
  }

  async addIceCandidate(candidate) {
    await tick();
    if (!this.remoteDescription) throw invalidState('a candidate before a remote description');
    this.candidates.push(candidate);
  }

  addTrack(track) {
    this.#negotiationNeeded();
    return { track };
  }

  close() {
    this.signalingState = 'closed';
    this.connectionState = 'closed';
  }

  /** The ICE connection fails (the client should restart ICE). */
  failIce() {
    this.iceConnectionState = 'failed';
    this.dispatchEvent(new Event('iceconnectionstatechange'));
  }

  #negotiationNeeded() {
    queueMicrotask(() => this.dispatchEvent(new Event('negotiationneeded')));
  }
}

/** Connects two negotiated fakes: each side's channels appear on the other and open. */
export function link(a, b) {
  for (const [from, to] of [[a, b], [b, a]]) {
    for (const channel of from.channels) {
      if (channel.peer) continue;
      const mirror = new FakeDataChannel(channel.label);
      channel.peer = mirror;
      mirror.peer = channel;
      to.dispatchEvent(Object.assign(new Event('datachannel'), { channel: mirror }));
      channel.open();
      mirror.open();
    }
    from.connectionState = 'connected';
    from.dispatchEvent(new Event('connectionstatechange'));
  }
}
