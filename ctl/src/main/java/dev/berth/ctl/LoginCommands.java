package dev.berth.ctl;

import dev.berth.proto.v1.LoginRequest;
import dev.berth.proto.v1.LoginResponse;
import dev.berth.proto.v1.LogoutRequest;
import dev.berth.proto.v1.RegistryAuth;
import java.io.BufferedReader;
import java.io.Console;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** `login` and `logout`: registry credentials, kept by the CLI and sent with each pull. */
final class LoginCommands {
  private LoginCommands() {
  }

  @Command(name = "login", description = "Log in to a registry")
  static final class Login extends BaseCommand {
    @Option(names = {"-u", "--username"}, description = "Username")
    String username;

    @Option(names = {"-p", "--password"}, description = "Password (visible to other users in ps: prefer --password-stdin)")
    String password;

    @Option(names = "--password-stdin", description = "Take the password from stdin")
    boolean passwordStdin;

    @Option(names = "--cluster", description = "Also keep the credential in the cluster, for the agents that run "
        + "jobs whose images come from this registry (a job's own --registry-auth wins)")
    boolean cluster;

    @Parameters(index = "0", arity = "0..1", paramLabel = "SERVER", description = "Registry host[:port]; default: docker.io")
    String server = Credentials.DOCKER_HUB;

    Login(Cli cli) {
      super(cli);
    }

    @Override
    int run() throws IOException {
      if (password != null && passwordStdin) {
        throw new CliException("--password and --password-stdin are mutually exclusive", 1);
      }
      Console console = System.console();
      if (username == null) {
        if (console == null) {
          throw new CliException("Cannot perform an interactive login from a non TTY device: give --username", 1);
        }
        username = console.readLine("Username: ");
      }
      if (passwordStdin) {
        password = new BufferedReader(new InputStreamReader(cli.in, StandardCharsets.UTF_8)).readLine();
      } else if (password == null) {
        if (console == null) {
          throw new CliException("Cannot perform an interactive login from a non TTY device: give --password-stdin", 1);
        }
        char[] p = console.readPassword("Password: ");
        password = p == null ? "" : new String(p);
      }
      if (username == null || username.isBlank() || password == null || password.isEmpty()) {
        throw new CliException("Error: a username and a password are required", 1);
      }
      RegistryAuth auth = RegistryAuth.newBuilder().setUsername(username).setPassword(password).build();
      String host = Credentials.normalize(server);
      LoginResponse r = cli.images().login(LoginRequest.newBuilder().setServer(host).setAuth(auth).setCluster(cluster)
          .build());
      new Credentials(cli.env).put(host, auth);
      cli.out.println(r.getStatus() + (cluster ? " (kept for the cluster's jobs)" : ""));
      return 0;
    }
  }

  @Command(name = "logout", description = "Log out from a registry")
  static final class Logout extends BaseCommand {
    @Option(names = "--cluster", description = "Forget the cluster's credential for the registry instead of this user's")
    boolean cluster;

    @Parameters(index = "0", arity = "0..1", paramLabel = "SERVER", description = "Registry host[:port]; default: docker.io")
    String server = Credentials.DOCKER_HUB;

    Logout(Cli cli) {
      super(cli);
    }

    @Override
    int run() throws IOException {
      String host = Credentials.normalize(server);
      if (cluster) {
        boolean removed = cli.images().logout(LogoutRequest.newBuilder().setServer(host).setCluster(true).build())
            .getRemoved();
        cli.out.println(removed ? "Removing the cluster's login credentials for " + host
            : "The cluster has no login for " + host);
        return 0;
      }
      if (new Credentials(cli.env).remove(host)) {
        cli.out.println("Removing login credentials for " + host);
      } else {
        cli.out.println("Not logged in to " + host);
      }
      return 0;
    }
  }
}
