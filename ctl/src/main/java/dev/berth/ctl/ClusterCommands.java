package dev.berth.ctl;

import dev.berth.proto.v1.ClusterServer;
import dev.berth.proto.v1.ClusterServiceGrpc;
import dev.berth.proto.v1.ClusterStatus;
import dev.berth.proto.v1.ClusterStatusRequest;
import picocli.CommandLine.Command;

/** `cluster status`: the cluster's health as the agent talked to sees it. */
final class ClusterCommands {
  private ClusterCommands() {
  }

  /** `cluster`: the group; {@link Commands} registers its subcommands. */
  @Command(name = "cluster", description = "Manage the cluster", synopsisSubcommandLabel = "COMMAND")
  static final class Group extends GroupCommand {
    Group(Cli cli) {
      super(cli);
    }
  }

  /** `cluster status`: a few lines about the cluster, then the servers. Exit 1 unless ready with a quorum. */
  @Command(name = "status", description = "Show the cluster's servers, leader and Raft health")
  static final class Status extends BaseCommand {
    Status(Cli cli) {
      super(cli);
    }

    @Override
    int run() {
      ClusterStatus s = ClusterServiceGrpc.newBlockingStub(cli.channel()).status(ClusterStatusRequest.getDefaultInstance());
      cli.out.println("Cluster:  " + s.getCluster());
      cli.out.println("Node:     " + s.getNode() + " (" + NodeCommands.role(s.getRole()) + ")");
      cli.out.println("Phase:    " + s.getPhase() + (s.getMessage().isEmpty() ? "" : ": " + s.getMessage()));
      cli.out.println("Leader:   " + (s.getLeader().isEmpty() ? "none known" : s.getLeader() + " (term " + s.getTerm() + ")"));
      long alive = s.getServersList().stream().filter(v -> v.getStatus() == dev.berth.proto.v1.NodeStatus.NODE_STATUS_READY).count();
      cli.out.println("Raft:     " + (s.getQuorum() ? "healthy" : "no quorum") + ", " + alive + " of " + s.getServersCount()
          + " servers ready");
      if (s.getStartupMillis() > 0) {
        cli.out.println("Started:  in " + s.getStartupMillis() + " ms");
      }
      cli.out.println();
      Table t = new Table("SERVER", "ADDRESS", "STATUS", "LEADER");
      for (ClusterServer v : s.getServersList()) {
        t.add(v.getName(), v.getAddress(), NodeCommands.statusWord(v.getStatus()), v.getLeader() ? "*" : "");
      }
      t.print(cli.out);
      return s.getPhase().equals("ready") && s.getQuorum() ? 0 : 1;
    }
  }
}
