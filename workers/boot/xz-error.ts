/** Data that is not a valid .xz stream (corrupt, truncated, or using a feature we do not decode). */
export class XzError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "XzError";
  }
}
