package dev.berth.agent.cluster;

import java.util.Optional;

/**
 * One node as {@code berth nodes} shows it: its registry entry joined with its liveness and the
 * facts it gossips.
 *
 * @param name node name
 * @param record its registry entry; {@link NodeDirectory} lists registered nodes only (gossip
 *     alone never makes a member), so it is present there
 * @param member its liveness; {@link MemberState#DOWN} if registered but not heard from
 * @param facts its latest gossiped facts, if any arrived
 */
public record NodeInfo(String name, Optional<NodeRecord> record, Member member, Optional<NodeFacts> facts) {}
