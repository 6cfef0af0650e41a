/** Per-address request limits of the routes a stranger can reach. */
export interface RateLimit {
  max: number;
  timeWindow: number;
}

export interface RateLimits {
  /** Join requests (API and web page): each one notifies the admins. */
  join: RateLimit;
  /** Certificate requests: each one costs a signature check. */
  certificate: RateLimit;
  /** Login attempts: each costs a 32 MiB scrypt, and guessing must stay slow. */
  login: RateLimit;
  /** Status polls and CRL fetches: clients poll every few seconds while they wait. */
  poll: RateLimit;
  /** Member reports: a NAT may hide many members behind one address. */
  report: RateLimit;
  /** Creating groups. */
  create: RateLimit;
}

const MINUTE = 60_000;

export const DEFAULT_RATE_LIMITS: RateLimits = {
  join: { max: 20, timeWindow: 10 * MINUTE },
  certificate: { max: 60, timeWindow: 10 * MINUTE },
  login: { max: 20, timeWindow: 10 * MINUTE },
  poll: { max: 600, timeWindow: 10 * MINUTE },
  report: { max: 600, timeWindow: 10 * MINUTE },
  create: { max: 10, timeWindow: 60 * MINUTE },
};
