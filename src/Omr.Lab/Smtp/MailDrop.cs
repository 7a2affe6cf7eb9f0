using System.Globalization;
using System.Text;

namespace Omr.Lab.Smtp;

/// <summary>Writes delivered messages as .eml files (atomically: temp file, then rename).</summary>
internal sealed class MailDrop
{
    public MailDrop(string path)
    {
        Path = path;
        Directory.CreateDirectory(path);
    }

    public string Path { get; }

    public static string Rfc5322Date(DateTimeOffset t) =>
        t.ToString("ddd, dd MMM yyyy HH:mm:ss ", CultureInfo.InvariantCulture)
        + (t.Offset < TimeSpan.Zero ? "-" : "+") + t.Offset.ToString("hhmm", CultureInfo.InvariantCulture);

    public async Task<string> WriteAsync(string headerBlock, byte[] body, CancellationToken ct)
    {
        var now = DateTimeOffset.UtcNow;
        var name = now.ToString("yyyyMMdd'T'HHmmssfff'Z'", CultureInfo.InvariantCulture) + "-" + Guid.NewGuid().ToString("N") + ".eml";
        var final = System.IO.Path.Combine(Path, name);
        var temp = final + ".tmp";
        await using (var fs = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 16 * 1024, useAsync: true))
        {
            var head = Encoding.UTF8.GetBytes(headerBlock);
            await fs.WriteAsync(head, ct).ConfigureAwait(false);
            await fs.WriteAsync(body, ct).ConfigureAwait(false);
        }
        File.Move(temp, final);
        return final;
    }
}
