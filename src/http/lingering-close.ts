import type { IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";

/** How long the rest of an unread body is read and discarded after the answer, at most. */
const lingerMs = 10_000;

/**
 * Answers a request whose body was not read to the end (too large, too slow, refused) the way
 * nginx's "lingering close" does: the response says `Connection: close`, then the server stops
 * writing but keeps reading and discarding what the client still sends, for up to
 * {@link lingerMs}, and closes once the client has finished. Closing at once makes the kernel reset
 * the connection under a client that is still sending, and clients that read the answer only
 * after sending (Python's `http.client`, many SDKs) then see a broken pipe instead of the 413.
 * Call it before the response is sent.
 *
 * @example
 * ```ts
 * if (!request.complete) lingerAfterAnswer(request, response);
 * sendError(response, new PayloadTooLargeError("..."), inferenceId, log);
 * ```
 */
export function lingerAfterAnswer(request: IncomingMessage, response: ServerResponse): void {
  if (response.headersSent) return;
  response.setHeader("connection", "close");
  const socket = request.socket as Socket & { destroySoon?: () => void };
  // Node's HTTP server ends a `Connection: close` socket with destroySoon(), which destroys it as
  // soon as the answer is flushed; this replaces that with a half-close and a bounded drain.
  socket.destroySoon = () => {
    socket.end();
    const timer = setTimeout(() => socket.destroy(), lingerMs);
    timer.unref();
    socket.once("close", () => clearTimeout(timer));
    socket.once("end", () => socket.destroy());
  };
  request.resume();
}
