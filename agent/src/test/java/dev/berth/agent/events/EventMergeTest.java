package dev.berth.agent.events;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Merging several agents' streams: by time across them, by sequence within one, never held by a silent one. */
@Timeout(10)
class EventMergeTest {
  private final AtomicLong now = new AtomicLong();
  private final EventMerge merge = new EventMerge(now::get, Duration.ofSeconds(2), 3);

  private static Event at(String source, long seq, long time) {
    return Event.of(Event.CONTAINER, "start", source + "-" + seq, "c", source, Map.of()).recorded(time, source, seq);
  }

  private static List<String> labels(List<Event> events) {
    return events.stream().map(e -> e.source() + "#" + e.sequence()).toList();
  }

  @Test
  void anEventGoesOutOnceEverySourceHasPassedItsTime() throws Exception {
    merge.open("n1");
    merge.open("n2");
    merge.offer("n1", at("n1", 1, 100));
    merge.offer("n1", at("n1", 2, 300));
    assertEquals(List.of(), merge.drain().events(), "n2 has said nothing yet");
    merge.offer("n2", at("n2", 7, 200));
    assertEquals(List.of("n1#1", "n2#7"), labels(merge.drain().events()));
    merge.progress("n2", 299);
    assertEquals(List.of(), merge.drain().events(), "n2 could still send something at 300");
    merge.progress("n2", 300);
    merge.offer("n1", at("n1", 3, 400));
    EventMerge.Drained d = merge.drain();
    assertEquals(List.of("n1#2"), labels(d.events()));
    assertEquals(300, d.watermark(), "complete up to n2's word, not n1's last event");
  }

  @Test
  void equalTimesGoOutBySourceThenSequence() throws Exception {
    merge.open("n2");
    merge.open("n1");
    merge.offer("n2", at("n2", 4, 100));
    merge.offer("n1", at("n1", 9, 100));
    merge.progress("n1", 100);
    merge.progress("n2", 100);
    assertEquals(List.of("n1#9", "n2#4"), labels(merge.drain().events()));
  }

  @Test
  void aSilentSourceIsNotWaitedForAfterTheStallTimeUntilItSpeaksAgain() throws Exception {
    merge.open("n1");
    merge.open("slow");
    merge.offer("n1", at("n1", 1, 100));
    now.addAndGet(Duration.ofMillis(1999).toNanos());
    merge.progress("n1", 150);
    assertEquals(List.of(), merge.drain().events());
    now.addAndGet(Duration.ofMillis(1).toNanos());
    assertTrue(merge.stalled("slow"));
    assertEquals(List.of("n1#1"), labels(merge.drain().events()), "two seconds of silence: not waited for");
    merge.progress("slow", 120);
    merge.offer("n1", at("n1", 2, 130));
    assertEquals(List.of(), merge.drain().events(), "it spoke: waited for again");
    merge.progress("slow", 140);
    assertEquals(List.of("n1#2"), labels(merge.drain().events()));
  }

  @Test
  void aClosedSourceIsNotWaitedForAndWhatItSentStillComesOutInOrder() throws Exception {
    merge.open("n1");
    merge.open("n2");
    merge.offer("n2", at("n2", 1, 50));
    merge.offer("n2", at("n2", 2, 500));
    merge.close("n2");
    merge.offer("n1", at("n1", 1, 100));
    assertEquals(List.of("n2#1", "n1#1"), labels(merge.drain().events()));
    assertFalse(merge.done());
    merge.close("n1");
    assertEquals(List.of("n2#2"), labels(merge.drain().events()));
    assertTrue(merge.done());
  }

  @Test
  void aSourceAheadOfTheOthersWaitsForRoomRatherThanFillingMemory() throws Exception {
    merge.open("fast");
    merge.open("other");
    for (int i = 1; i <= 3; i++) {
      merge.offer("fast", at("fast", i, i * 10));
    }
    CompletableFuture<Void> fourth = CompletableFuture.runAsync(() -> {
      try {
        merge.offer("fast", at("fast", 4, 40));
      } catch (InterruptedException e) {
        throw new IllegalStateException(e);
      }
    });
    Thread.sleep(200);
    assertFalse(fourth.isDone(), "three held: the fourth waits");
    merge.progress("other", 15);
    assertEquals(List.of("fast#1"), labels(merge.drain().events()));
    fourth.get(5, TimeUnit.SECONDS);
    merge.progress("other", 1000);
    assertEquals(List.of("fast#2", "fast#3", "fast#4"), labels(merge.drain().events()));
  }
}
