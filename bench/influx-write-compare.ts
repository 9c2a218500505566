/**
 * Raw `/write` vs InfluxWriter, side by side, at concurrency 1, 2 and 4:
 *   npx tsx bench/influx-write-compare.ts [points]
 * Uses CAMPUS_BENCH_INFLUX_URL (loopback) or starts a private influxd.
 */
import { startInfluxProcess } from '../tests/setup/influx.ts';
import { measureRawWrites } from './influx-raw.ts';
import { measureWriterWrites } from './influx-writer.ts';

const points = Number(process.argv[2] ?? 500_000);
const external = process.env.CAMPUS_BENCH_INFLUX_URL;
const server = external ? { url: external, stop: async () => {} } : await startInfluxProcess();
try {
  console.log(`points=${points} batch=5000 url=${server.url}`);
  for (const concurrency of [1, 2, 4]) {
    const raw = await measureRawWrites({ url: server.url, db: `bench_raw_${concurrency}_${Date.now()}`, points, batch: 5000, concurrency });
    const ours = await measureWriterWrites({ url: server.url, db: `bench_writer_${concurrency}_${Date.now()}`, points, batch: 5000, concurrency });
    console.log(
      `concurrency=${concurrency} raw=${Math.round(raw.pointsPerSecond)} pts/s writer=${Math.round(ours.pointsPerSecond)} pts/s ratio=${(ours.pointsPerSecond / raw.pointsPerSecond).toFixed(2)}`,
    );
  }
} finally {
  await server.stop();
}
