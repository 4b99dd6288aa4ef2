// Dead-connection detection: a ping every interval; a connection whose previous ping got no pong
// by the next tick is reported dead (a peer whose pod vanished never answers, and TCP alone can
// take minutes to notice).
import type { WebSocket } from 'ws';

export class Liveness {
  private answered = true;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly ws: WebSocket,
    intervalMs: number,
    private readonly onDead: () => void,
  ) {
    ws.on('pong', this.onPong);
    this.timer = setInterval(this.tick, intervalMs);
  }

  stop(): void {
    clearInterval(this.timer);
    this.ws.off('pong', this.onPong);
  }

  private readonly onPong = (): void => {
    this.answered = true;
  };

  private readonly tick = (): void => {
    if (!this.answered) {
      this.stop();
      this.onDead();
      return;
    }
    this.answered = false;
    this.ws.ping();
  };
}
