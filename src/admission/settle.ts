import type { Budget } from "./rate-budget.ts";
import type { Quota } from "./tenant-quota.ts";

/** Gives back to the rate budget and the tenant's quota what an answer did not use of its reservation. */
export async function settleReservation(budget: Budget, quota: Quota, day: string, reserved: number, spent: number): Promise<void> {
  if (!reserved) return;
  await Promise.all([budget.refund(reserved - spent), quota.settle(day, reserved, spent)]);
}
