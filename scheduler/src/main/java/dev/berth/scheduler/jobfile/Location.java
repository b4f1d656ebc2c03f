package dev.berth.scheduler.jobfile;

/** Where something is in a job file: 1-based line and column. */
public record Location(int line, int column) {
}
