/**
 * {@code berth}, the command-line client of {@code berthd}.
 *
 * <p>{@link dev.berth.ctl.Main} runs one command line: the listing commands take
 * {@link dev.berth.ctl.FastPath} when their arguments are plain, everything else is parsed by
 * picocli in {@link dev.berth.ctl.Commands}, which registers only the command invoked. The
 * daemon is reached over gRPC on OkHttp (no Netty); a unix socket host goes through
 * {@link dev.berth.ctl.UnixSocketFactory}, which hands OkHttp a {@link java.net.Socket} backed
 * by a JDK 16+ unix-domain {@link java.nio.channels.SocketChannel}. Everything a command
 * touches (streams, environment, clock, terminal, channel) lives in a {@link dev.berth.ctl.Cli},
 * so tests run the real commands in-process against an in-process server.
 *
 * <p>Start-up time is a feature here: see {@link dev.berth.ctl.FastPath},
 * {@link dev.berth.ctl.PlaintextOnly}, {@link dev.berth.ctl.CdsTraining} and the launcher
 * scripts in {@code src/main/sh}.
 */
package dev.berth.ctl;
