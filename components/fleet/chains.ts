/**
 * Splits a cluster's nodes (in plan order) into `concurrency` chains: node i joins chain
 * i % concurrency and waits for the node before it in that chain. With concurrency 1 the whole
 * cluster is one chain, so at most one of its machines is out of service at a time.
 */
export function chainIndexes(count: number, concurrency = 1): { chain: number; previous: number | undefined }[] {
  if (!Number.isSafeInteger(concurrency) || concurrency < 1) throw new Error(`concurrency must be a positive integer, got ${concurrency}`);
  return Array.from({ length: count }, (_, i) => ({ chain: i % concurrency, previous: i >= concurrency ? i - concurrency : undefined }));
}
