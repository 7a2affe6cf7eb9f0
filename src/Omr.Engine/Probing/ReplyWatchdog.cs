using System.Collections.Concurrent;
using System.Diagnostics;
using System.Threading;

namespace Omr.Engine.Probing
{
    /// <summary>
    /// One coarse timer for the reply timeouts of every open connection: arming a timeout is a field
    /// write, not a timer operation, so thousands of connections do not contend on the timer queue.
    /// Timeouts fire within <see cref="Tick"/> of their deadline.
    /// </summary>
    internal static class ReplyWatchdog
    {
        public static readonly long Tick = Stopwatch.Frequency / 10; // 100 ms
        private static readonly ConcurrentDictionary<SmtpConnection, byte> Live = new ConcurrentDictionary<SmtpConnection, byte>();
        private static readonly object Gate = new object();
        private static Timer? _timer;
        private static int _count;

        public static void Add(SmtpConnection c)
        {
            if (!Live.TryAdd(c, 0)) return;
            if (Interlocked.Increment(ref _count) == 1)
            {
                lock (Gate)
                {
                    _timer ??= new Timer(_ => Check(), null, 100, 100);
                }
            }
        }

        public static void Remove(SmtpConnection c)
        {
            if (!Live.TryRemove(c, out _)) return;
            if (Interlocked.Decrement(ref _count) == 0)
            {
                lock (Gate)
                {
                    if (Volatile.Read(ref _count) == 0 && _timer != null)
                    {
                        _timer.Dispose();
                        _timer = null;
                    }
                }
            }
        }

        private static void Check()
        {
            var now = Stopwatch.GetTimestamp();
            foreach (var kv in Live) kv.Key.CheckDeadline(now);
        }
    }
}
