using System;
using System.IO;

namespace Omr.Engine
{
    /// <summary>Files written atomically: a hidden temporary file beside the target, flushed, then renamed over it.</summary>
    public static class AtomicFile
    {
        public static void Write(string path, byte[] bytes)
        {
            var dir = Path.GetDirectoryName(Path.GetFullPath(path)) ?? ".";
            var tmp = Path.Combine(dir, "." + Path.GetFileName(path) + "." + Guid.NewGuid().ToString("N").Substring(0, 8) + ".tmp");
            try
            {
                using (var fs = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
                {
                    fs.Write(bytes, 0, bytes.Length);
                    fs.Flush(true);
                }
                if (File.Exists(path)) File.Replace(tmp, path, null);
                else File.Move(tmp, path);
            }
            finally
            {
                try { if (File.Exists(tmp)) File.Delete(tmp); } catch (IOException) { /* best effort */ }
            }
        }
    }
}
