using System;
using System.Text;
using System.Threading;

namespace Omr.Engine.Probing
{
    /// <summary>
    /// Reply lines that many servers send alike ("250 2.1.0 Ok", "550 5.7.1 Relaying denied", "221 2.0.0
    /// Bye") decoded once per process instead of once per line: a fixed table of short, printable ASCII
    /// lines keyed by their exact bytes. A hit is a line with exactly the same bytes, so what a reply
    /// says never depends on what another server said. Lock-free: a slot holds an immutable entry and is
    /// replaced whole; a miss decodes as before and takes the slot.
    /// </summary>
    internal static class ReplyCache
    {
        /// <summary>Longest line kept (longer ones are rarely repeated).</summary>
        internal const int MaxLineLength = 120;
        private const int Slots = 4096;

        internal sealed class Entry
        {
            public Entry(byte[] bytes, string line) { Bytes = bytes; Line = line; }
            public readonly byte[] Bytes;
            /// <summary>The line as text (safe: printable ASCII only, so the transcript keeps it as it is).</summary>
            public readonly string Line;
            private SmtpReply? _reply;

            /// <summary>The one-line reply this line is ("ddd text"), split once and shared.</summary>
            public SmtpReply OneLineReply(int code)
            {
                var r = Volatile.Read(ref _reply);
                if (r != null) return r;
                r = new SmtpReply(code, Line, null).Prepared();
                Volatile.Write(ref _reply, r);
                return r;
            }
        }

        private static readonly Entry?[] Table = new Entry?[Slots];
        /// <summary>The hash last seen per slot: a line takes a slot only when it comes a second time, so lines that are unique (most name the recipient) cost no copy.</summary>
        private static readonly uint[] Seen = new uint[Slots];

        /// <summary>
        /// The entry for these bytes (from the table when the same bytes were seen before); false for a
        /// line seen for the first time, empty, long, or not printable ASCII (decoded the long way).
        /// </summary>
        public static bool TryGet(byte[] bytes, int offset, int count, out Entry entry)
        {
            entry = null!;
            if (count == 0 || count > MaxLineLength) return false;
            uint hash = 2166136261;
            for (int i = offset; i < offset + count; i++)
            {
                byte b = bytes[i];
                if (b < 0x20 || b >= 0x7f) return false;
                hash = (hash ^ b) * 16777619;
            }
            int slot = (int)(hash & (Slots - 1));
            var e = Volatile.Read(ref Table[slot]);
            if (e != null && e.Bytes.Length == count && Same(e.Bytes, bytes, offset, count))
            {
                entry = e;
                return true;
            }
            if (Volatile.Read(ref Seen[slot]) != hash)
            {
                Volatile.Write(ref Seen[slot], hash);
                return false;
            }
            var copy = new byte[count];
            Buffer.BlockCopy(bytes, offset, copy, 0, count);
            e = new Entry(copy, Encoding.ASCII.GetString(bytes, offset, count));
            Volatile.Write(ref Table[slot], e);
            entry = e;
            return true;
        }

        private static bool Same(byte[] a, byte[] b, int offset, int count)
        {
            for (int i = 0; i < count; i++) if (a[i] != b[offset + i]) return false;
            return true;
        }
    }
}
