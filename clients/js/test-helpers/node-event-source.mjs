// A minimal EventSource for Node (Node 20 has none), enough to run the SSE transport against a
// real hub: one request, the text/event-stream format, named events, lastEventId. Unlike a
// browser it does not reconnect by itself.
import http from 'node:http';

export class NodeEventSource {
  static CONNECTING = 0;
  static OPEN = 1;
  static CLOSED = 2;

  readyState = 0;
  #listeners = new Map();
  #request;
  #lastEventId = '';

  constructor(url) {
    this.url = url;
    this.#request = http.get(url, { headers: { Accept: 'text/event-stream' } }, (response) => this.#receive(response));
    this.#request.on('error', () => this.#fail());
  }

  addEventListener(type, listener) {
    if (!this.#listeners.has(type)) this.#listeners.set(type, []);
    this.#listeners.get(type).push(listener);
  }

  close() {
    this.readyState = 2;
    this.#request.destroy();
  }

  #receive(response) {
    if (response.statusCode !== 200 || !String(response.headers['content-type']).startsWith('text/event-stream')) {
      response.resume();
      this.readyState = 2;
      this.onerror?.({ type: 'error', status: response.statusCode });
      return;
    }
    this.readyState = 1;
    this.onopen?.({ type: 'open' });
    response.setEncoding('utf8');
    let buffer = '';
    let event = { data: [], type: '' };
    response.on('data', (chunk) => {
      buffer += chunk;
      let newline;
      while ((newline = buffer.search(/\r\n|\n|\r/)) !== -1) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + (buffer.startsWith('\r\n', newline) ? 2 : 1));
        if (line === '') {
          this.#dispatch(event);
          event = { data: [], type: '' };
        } else if (!line.startsWith(':')) {
          const colon = line.indexOf(':');
          const field = colon === -1 ? line : line.slice(0, colon);
          const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
          if (field === 'data') event.data.push(value);
          else if (field === 'event') event.type = value;
          else if (field === 'id') this.#lastEventId = value;
        }
      }
    });
    response.on('end', () => this.#fail());
  }

  #dispatch({ data, type }) {
    if (data.length === 0 || this.readyState === 2) return;
    const message = { type: type || 'message', data: data.join('\n'), lastEventId: this.#lastEventId, target: this };
    for (const listener of this.#listeners.get(message.type) ?? []) listener(message);
  }

  #fail() {
    if (this.readyState === 2) return;
    this.readyState = 2; // a browser would reconnect; this stand-in stops
    this.onerror?.({ type: 'error' });
  }
}
