import t from 'tap';
import { FaultSchedule, type TransportFault } from '../../sim/fault-schedule.js';

function tally(schedule: FaultSchedule, rates: Record<TransportFault, number>, requests: number): Record<string, number> {
  const counts: Record<string, number> = {};
  for (let i = 0; i < requests; i++) {
    const fault = schedule.next(rates) ?? 'ok';
    counts[fault] = (counts[fault] ?? 0) + 1;
  }
  return counts;
}

t.test('each fault kind comes once per 1/rate requests, whatever the seed', async (t) => {
  for (const seed of [1, 2, 11, 12345, 987654321]) {
    const counts = tally(new FaultSchedule(seed), { '429': 0.05, '5xx': 0.05, timeout: 0.01 }, 200);
    // 200 requests: 10 ± 1 of each 5% kind, 2 ± 1 timeouts; a kind that collides waits, so it is never lost.
    t.ok(counts['429']! >= 9 && counts['429']! <= 11, `seed ${seed}: 429s ${counts['429']}`);
    t.ok(counts['5xx']! >= 9 && counts['5xx']! <= 11, `seed ${seed}: 5xx ${counts['5xx']}`);
    t.ok(counts.timeout! >= 1 && counts.timeout! <= 3, `seed ${seed}: timeouts ${counts.timeout}`);
  }
});

t.test('a rate of 1 faults every request and 0 none; a changed rate applies at once', async (t) => {
  const schedule = new FaultSchedule(3);
  t.same(tally(schedule, { '429': 0, '5xx': 1, timeout: 0 }, 50), { '5xx': 50 });
  t.same(tally(schedule, { '429': 0, '5xx': 0, timeout: 0 }, 50), { ok: 50 });
});

t.test('the same seed gives the same schedule', async (t) => {
  const rates = { '429': 0.1, '5xx': 0.03, timeout: 0.02 };
  const a = new FaultSchedule(7);
  const b = new FaultSchedule(7);
  const seqA = Array.from({ length: 300 }, () => a.next(rates));
  const seqB = Array.from({ length: 300 }, () => b.next(rates));
  t.same(seqA, seqB);
  t.not(JSON.stringify(seqA), JSON.stringify(Array.from({ length: 300 }, () => new FaultSchedule(8).next(rates))));
});
