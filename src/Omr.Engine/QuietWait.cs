using System.Threading;
using System.Threading.Tasks;

namespace Omr.Engine
{
    /// <summary>
    /// Blocks a thread on a task without spinning: Task.Wait spins first, which at scale burns a core
    /// that thousands of connections in flight need. For the pipeline thread and other sync callers.
    /// </summary>
    internal static class QuietWait
    {
        [System.ThreadStatic] private static ManualResetEventSlim? _wake;

        /// <summary>Returns once <paramref name="task"/> is complete (it does not observe its result).</summary>
        public static void Wait(Task task)
        {
            if (task.IsCompleted) return;
            var wake = _wake ??= new ManualResetEventSlim(false, 0);
            wake.Reset();
            task.ContinueWith((_, state) => ((ManualResetEventSlim)state!).Set(), wake, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            wake.Wait();
        }

        /// <summary>The result of <paramref name="task"/> once complete (its exception is thrown as it is).</summary>
        public static T Result<T>(Task<T> task)
        {
            Wait(task);
            return task.GetAwaiter().GetResult();
        }
    }
}
