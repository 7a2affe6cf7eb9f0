using System;
using System.IO;
using System.Reflection;
using System.Threading;
using System.Threading.Tasks;

namespace Omr.Engine.Probing
{
    /// <summary>
    /// Stream reads as <see cref="ValueTask{TResult}"/>: where the runtime has
    /// Stream.ReadAsync(Memory&lt;byte&gt;, CancellationToken) (.NET Core 2.1 and later), a socket read
    /// that has to wait costs no Task; elsewhere (Windows PowerShell 5.1) the Task-based read.
    /// </summary>
    internal static class StreamIo
    {
        private delegate ValueTask<int> MemoryRead(Stream stream, Memory<byte> buffer, CancellationToken ct);

        private static readonly MemoryRead? Read = FindMemoryRead();

        private static MemoryRead? FindMemoryRead()
        {
            try
            {
                var method = typeof(Stream).GetMethod("ReadAsync", BindingFlags.Public | BindingFlags.Instance, null, new[] { typeof(Memory<byte>), typeof(CancellationToken) }, null);
                if (method is null || method.ReturnType != typeof(ValueTask<int>)) return null;
                // An open-instance delegate: called through the stream's own override (NetworkStream, SslStream).
                return (MemoryRead)Delegate.CreateDelegate(typeof(MemoryRead), method, throwOnBindFailure: false);
            }
            catch (Exception ex) when (ex is ArgumentException || ex is MemberAccessException || ex is AmbiguousMatchException)
            {
                return null;
            }
        }

        /// <summary>True when reads go through the Memory overload (for tests).</summary>
        internal static bool UsesMemoryOverload => Read != null;

        public static ValueTask<int> ReadAsync(Stream stream, byte[] buffer, int offset, int count, CancellationToken ct)
            => Read != null
                ? Read(stream, new Memory<byte>(buffer, offset, count), ct)
                : new ValueTask<int>(stream.ReadAsync(buffer, offset, count, ct));
    }
}
