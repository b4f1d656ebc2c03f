package dev.berth.agent.runtime.net;

/** The fake against the contract. */
class RecordingNetworkDriverTest extends NetworkDriverContract {
  @Override
  NetworkDriver create() {
    return new RecordingNetworkDriver();
  }

  @Override
  void destroy() {}
}
