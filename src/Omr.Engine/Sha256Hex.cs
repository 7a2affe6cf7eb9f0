using System.IO;
using System.Security.Cryptography;
using System.Text;

namespace Omr.Engine
{
    /// <summary>
    /// SHA-256 as lower-case hex: what an evidence bundle records for its files, what the trust check
    /// compares them with, and how the state database remembers an imported file. One definition, so
    /// the writer and the checker cannot drift apart.
    /// </summary>
    internal static class Sha256Hex
    {
        public static string Of(byte[] data)
        {
            using var sha = SHA256.Create();
            return Hex(sha.ComputeHash(data));
        }

        public static string Of(Stream data)
        {
            using var sha = SHA256.Create();
            return Hex(sha.ComputeHash(data));
        }

        private static string Hex(byte[] hash)
        {
            var sb = new StringBuilder(hash.Length * 2);
            foreach (var b in hash) sb.Append(b.ToString("x2", System.Globalization.CultureInfo.InvariantCulture));
            return sb.ToString();
        }
    }
}
