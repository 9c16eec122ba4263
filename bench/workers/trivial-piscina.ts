// The same trivial work the engine benchmark does, as a Piscina task.
export default function task(record: { id: number; x: number }): { y: number } {
  return { y: record.x * 2 };
}
