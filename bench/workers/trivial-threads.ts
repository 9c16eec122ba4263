import { expose } from 'threads/worker';

expose({
  run(record: { id: number; x: number }): { y: number } {
    return { y: record.x * 2 };
  },
});
