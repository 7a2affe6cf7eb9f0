using System.IO;
using System.Threading;
using System.Threading.Tasks;

namespace Omr.Engine
{
    /// <summary>
    /// Reads a stream to its end, but never more than a bound: a message from a mailbox, an RDAP answer. What
    /// comes from a server or a file is not trusted to be as small as it says.
    /// </summary>
    internal static class BoundedRead
    {
        /// <summary>All of <paramref name="stream"/>, or null as soon as it holds more than <paramref name="maxBytes"/>.</summary>
        public static async Task<byte[]?> ReadAsync(Stream stream, long maxBytes, CancellationToken ct)
        {
            using var ms = new MemoryStream();
            var buffer = new byte[81920];
            int n;
            while ((n = await stream.ReadAsync(buffer, 0, buffer.Length, ct).ConfigureAwait(false)) > 0)
            {
                if (ms.Length + n > maxBytes) return null;
                ms.Write(buffer, 0, n);
            }
            return ms.ToArray();
        }
    }
}
