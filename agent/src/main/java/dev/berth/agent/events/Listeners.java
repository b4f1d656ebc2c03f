package dev.berth.agent.events;

import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.util.List;

/**
 * One listener that tells several, for parts that take a single listener (the runtime's {@code
 * ContainerEvents}, the scheduler's {@code Listener}). A proxy, not a hand-written class: a
 * method added to the interface later reaches every listener without a change here.
 */
public final class Listeners {
  private Listeners() {}

  /**
   * A {@code type} that calls each of {@code listeners} in turn, on the caller's thread. What one
   * throws propagates after the others have been called (the first failure, others suppressed).
   */
  @SafeVarargs
  public static <T> T all(Class<T> type, T... listeners) {
    List<T> each = List.of(listeners);
    InvocationHandler h = (proxy, method, args) -> {
      if (method.getDeclaringClass() == Object.class) {
        return switch (method.getName()) {
          case "equals" -> proxy == args[0];
          case "hashCode" -> System.identityHashCode(proxy);
          default -> "all" + each;
        };
      }
      Throwable failure = null;
      Object result = null;
      for (T l : each) {
        try {
          Object r = method.invoke(l, args);
          result = result == null ? r : result;
        } catch (InvocationTargetException e) {
          if (failure == null) {
            failure = e.getCause();
          } else {
            failure.addSuppressed(e.getCause());
          }
        }
      }
      if (failure != null) {
        throw failure;
      }
      return result;
    };
    return type.cast(Proxy.newProxyInstance(type.getClassLoader(), new Class<?>[] {type}, h));
  }
}
