import { describe, expect, it } from 'vitest';
import { createEventQueue } from '../bin/local/s3-event-bridge.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('the local stack’s event queue', () => {
  it('one at a time by default; concurrent: a slow event holds up no other; idle waits for every event', async () => {
    const order: string[] = [];
    const handler = async (event: string) => {
      if (event === 'slow') await sleep(200);
      order.push(event);
    };

    const serial = createEventQueue(handler, { retries: 0 });
    serial.push('slow');
    serial.push('fast');
    await serial.idle();
    const serialOrder = order.splice(0);

    const concurrent = createEventQueue(handler, { retries: 0, concurrent: true });
    concurrent.push('slow');
    concurrent.push('fast');
    await concurrent.idle();

    expect(serialOrder).toEqual(['slow', 'fast']);
    expect(order).toEqual(['fast', 'slow']);
  });

  it('a concurrent event that fails every try is handed to onExhausted and does not stop the others', async () => {
    const exhausted: string[] = [];
    const delivered: string[] = [];
    const queue = createEventQueue(
      async (event: string) => {
        if (event === 'bad') throw new Error('receiver down');
        return event;
      },
      {
        retries: 1,
        retryDelayMs: 1,
        concurrent: true,
        onDelivered: (event) => delivered.push(event),
        onExhausted: (event) => void exhausted.push(event),
      },
    );
    queue.push('bad');
    queue.push('good');
    await queue.idle();
    expect(delivered).toEqual(['good']);
    expect(exhausted).toEqual(['bad']);
  });
});
