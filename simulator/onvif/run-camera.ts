/**
 * Runs one simulated camera in its own process, e.g. inside a network namespace:
 *   ip netns exec NS node --import tsx simulator/onvif/run-camera.ts '<SimulatedCameraOptions as JSON>'
 * Prints one JSON line ({ xaddr, port, discoveryPort, streamUri, endpoint }) when ready; stops on
 * SIGTERM/SIGINT or when stdin closes (so it dies with the test that started it).
 */
import { startSimulatedCamera, type SimulatedCameraOptions } from './camera.ts';

const opts = JSON.parse(process.argv[2] ?? '{}') as SimulatedCameraOptions;
const cam = await startSimulatedCamera(opts);
process.stdout.write(JSON.stringify({ xaddr: cam.xaddr, port: cam.port, discoveryPort: cam.discoveryPort, streamUri: cam.streamUri, endpoint: cam.endpoint }) + '\n');
const stop = (): void => {
  void cam.stop().finally(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdin.on('end', stop);
process.stdin.on('close', stop);
process.stdin.resume();
