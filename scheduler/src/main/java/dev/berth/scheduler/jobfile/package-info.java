/**
 * Job files: {@link dev.berth.scheduler.jobfile.JobFileParser} reads YAML or JSON into the
 * scheduler's {@link dev.berth.scheduler.model.Job}, strictly, with the line and column of
 * anything it refuses; {@link dev.berth.scheduler.jobfile.JobFile#validateAgainst} refuses
 * requests no node could ever satisfy.
 *
 * <p>Parses strings only: reading the file is the caller's (the CLI's) business. Depends on the
 * JDK, Jackson's streaming parser (core and YAML) and the scheduler's model; not on the engine.
 */
package dev.berth.scheduler.jobfile;
