package dev.berth.scheduler.model;

/** How free capacity is preferred when scoring nodes. */
public enum PlacementStrategy {
  /** Fill nodes up: prefer the node that is fullest after placement (fewer, busier hosts). */
  BINPACK,
  /** Even out: prefer the node that is emptiest after placement. */
  SPREAD
}
