package dev.berth.agent.runtime;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Berth's default seccomp profile: the same policy as Docker's default profile. Everything
 * not listed fails with EPERM; what a capability unlocks is allowed only when the container
 * keeps that capability; namespace creation through clone is refused and clone3 answers
 * ENOSYS (so libc falls back to clone, whose flags can be checked).
 *
 * <p>The profile is data: {@link #rules(Set)} returns the rules, the launcher loads them
 * with libseccomp. A syscall this kernel does not know is skipped by the launcher.
 */
public final class SeccompProfile {
  /** EPERM: what a forbidden call returns, as with Docker. */
  public static final int DEFAULT_ERRNO = 1;
  private static final int ENOSYS = 38;
  /** The CLONE_NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID and NEWNET bits of clone's flags. */
  private static final long CLONE_NAMESPACE_FLAGS = 0x7E020000L;
  private static final int AF_VSOCK = 40;

  /** One rule: an action for a syscall, with optional argument conditions ("INDEX:OP:VALUE[:VALUE2]"). */
  public record Rule(String action, String syscall, List<String> conditions) {}

  private static final List<String> ALWAYS = List.of((""
      + "accept accept4 access adjtimex alarm arch_prctl bind brk cachestat capget capset chdir chmod chown"
      + " chown32 clock_adjtime clock_adjtime64 clock_getres clock_getres_time64 clock_gettime"
      + " clock_gettime64 clock_nanosleep clock_nanosleep_time64 close close_range connect copy_file_range"
      + " creat dup dup2 dup3 epoll_create epoll_create1 epoll_ctl epoll_ctl_old epoll_pwait epoll_pwait2"
      + " epoll_wait epoll_wait_old eventfd eventfd2 execve execveat exit exit_group faccessat faccessat2"
      + " fadvise64 fadvise64_64 fallocate fanotify_mark fchdir fchmod fchmodat fchmodat2 fchown fchown32"
      + " fchownat fcntl fcntl64 fdatasync fgetxattr flistxattr flock fork fremovexattr fsetxattr fstat"
      + " fstat64 fstatat64 fstatfs fstatfs64 fsync ftruncate ftruncate64 futex futex_requeue futex_time64"
      + " futex_wait futex_waitv futex_wake futimesat getcpu getcwd getdents getdents64 getegid getegid32"
      + " geteuid geteuid32 getgid getgid32 getgroups getgroups32 getitimer getpeername getpgid getpgrp"
      + " getpid getppid getpriority getrandom getresgid getresgid32 getresuid getresuid32 getrlimit"
      + " get_robust_list getrusage getsid getsockname getsockopt get_thread_area gettid gettimeofday getuid"
      + " getuid32 getxattr inotify_add_watch inotify_init inotify_init1 inotify_rm_watch io_cancel ioctl"
      + " io_destroy io_getevents io_pgetevents io_pgetevents_time64 ioprio_get ioprio_set io_setup"
      + " io_submit ipc kcmp kill landlock_add_rule landlock_create_ruleset landlock_restrict_self lchown"
      + " lchown32 lgetxattr link linkat listen listxattr llistxattr _llseek lremovexattr lseek lsetxattr"
      + " lstat lstat64 madvise map_shadow_stack membarrier memfd_create memfd_secret mincore mkdir mkdirat"
      + " mknod mknodat mlock mlock2 mlockall mmap mmap2 modify_ldt mprotect mq_getsetattr mq_notify mq_open"
      + " mq_timedreceive mq_timedreceive_time64 mq_timedsend mq_timedsend_time64 mq_unlink mremap msgctl"
      + " msgget msgrcv msgsnd msync munlock munlockall munmap name_to_handle_at nanosleep newfstatat"
      + " _newselect open openat openat2 pause pidfd_open pidfd_send_signal pipe pipe2 pkey_alloc pkey_free"
      + " pkey_mprotect poll ppoll ppoll_time64 prctl pread64 preadv preadv2 prlimit64 process_mrelease"
      + " process_vm_readv process_vm_writev pselect6 pselect6_time64 ptrace pwrite64 pwritev pwritev2 read"
      + " readahead readlink readlinkat readv recv recvfrom recvmmsg recvmmsg_time64 recvmsg"
      + " remap_file_pages removexattr rename renameat renameat2 restart_syscall rmdir rseq rt_sigaction"
      + " rt_sigpending rt_sigprocmask rt_sigqueueinfo rt_sigreturn rt_sigsuspend rt_sigtimedwait"
      + " rt_sigtimedwait_time64 rt_tgsigqueueinfo sched_getaffinity sched_getattr sched_getparam"
      + " sched_get_priority_max sched_get_priority_min sched_getscheduler sched_rr_get_interval"
      + " sched_rr_get_interval_time64 sched_setaffinity sched_setattr sched_setparam sched_setscheduler"
      + " sched_yield seccomp select semctl semget semop semtimedop semtimedop_time64 send sendfile"
      + " sendfile64 sendmmsg sendmsg sendto setfsgid setfsgid32 setfsuid setfsuid32 setgid setgid32"
      + " setgroups setgroups32 setitimer setpgid setpriority setregid setregid32 setresgid setresgid32"
      + " setresuid setresuid32 setreuid setreuid32 setrlimit set_robust_list setsid setsockopt"
      + " set_thread_area set_tid_address setuid setuid32 setxattr shmat shmctl shmdt shmget shutdown"
      + " sigaltstack signalfd signalfd4 sigprocmask sigreturn socketcall socketpair splice stat stat64"
      + " statfs statfs64 statx symlink symlinkat sync sync_file_range syncfs sysinfo tee tgkill time"
      + " timer_create timer_delete timer_getoverrun timer_gettime timer_gettime64 timer_settime"
      + " timer_settime64 timerfd_create timerfd_gettime timerfd_gettime64 timerfd_settime"
      + " timerfd_settime64 times tkill truncate truncate64 ugetrlimit umask uname unlink unlinkat utime"
      + " utimensat utimensat_time64 utimes vfork vmsplice wait4 waitid waitpid write writev").split(" "));

  /** Syscalls a capability unlocks; only allowed when the container keeps it. */
  private static final Map<String, List<String>> BY_CAPABILITY = Map.of(
      "CAP_SYS_ADMIN", List.of("bpf", "clone", "clone3", "fanotify_init", "fsconfig", "fsmount", "fsopen",
          "fspick", "lookup_dcookie", "mount", "mount_setattr", "move_mount", "open_tree", "perf_event_open",
          "quotactl", "quotactl_fd", "setdomainname", "sethostname", "setns", "syslog", "umount", "umount2",
          "unshare"),
      "CAP_DAC_READ_SEARCH", List.of("open_by_handle_at"),
      "CAP_SYS_BOOT", List.of("reboot"),
      "CAP_SYS_CHROOT", List.of("chroot"),
      "CAP_SYS_MODULE", List.of("delete_module", "init_module", "finit_module"),
      "CAP_SYS_PACCT", List.of("acct"),
      "CAP_SYS_PTRACE", List.of("pidfd_getfd", "process_madvise"),
      "CAP_SYS_RAWIO", List.of("iopl", "ioperm"),
      "CAP_SYS_TIME", List.of("settimeofday", "stime", "clock_settime", "clock_settime64"),
      "CAP_SYS_NICE", List.of("get_mempolicy", "mbind", "set_mempolicy", "set_mempolicy_home_node"));

  private SeccompProfile() {}

  /** The rules for a container that keeps {@code capabilities}. */
  public static List<Rule> rules(Set<String> capabilities) {
    List<Rule> rules = new ArrayList<>();
    for (String name : ALWAYS) {
      rules.add(new Rule("allow", name, List.of()));
    }
    BY_CAPABILITY.forEach((cap, calls) -> {
      if (capabilities.contains(cap)) {
        calls.forEach(c -> rules.add(new Rule("allow", c, List.of())));
      }
    });
    if (capabilities.contains("CAP_SYS_TTY_CONFIG")) {
      rules.add(new Rule("allow", "vhangup", List.of()));
    }
    if (!capabilities.contains("CAP_SYS_ADMIN")) {
      rules.add(new Rule("allow", "clone", List.of("0:masked_eq:" + CLONE_NAMESPACE_FLAGS + ":0")));
      rules.add(new Rule("errno:" + ENOSYS, "clone3", List.of()));
    }
    // Every socket family but vsock, which would reach the host's hypervisor.
    rules.add(new Rule("allow", "socket", List.of("0:ne:" + AF_VSOCK)));
    // Personalities that change nothing dangerous: Linux, UNAME26, PER_LINUX32, and the query.
    for (long persona : new long[] {0x0, 0x8, 0x20000, 0x20008, 0xffffffffL}) {
      rules.add(new Rule("allow", "personality", List.of("0:eq:" + persona)));
    }
    return List.copyOf(rules);
  }
}
