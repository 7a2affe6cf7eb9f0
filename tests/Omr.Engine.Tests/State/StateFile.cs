using Microsoft.Data.Sqlite;

namespace Omr.Engine.Tests.State;

/// <summary>Reads a state database file as an outsider would: read-only, unpooled, one scalar per query.</summary>
internal static class StateFile
{
    public static string Scalar(string path, string sql)
    {
        using var c = new SqliteConnection("Data Source=" + path + ";Mode=ReadOnly;Pooling=False");
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        return Convert.ToString(cmd.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture) ?? string.Empty;
    }
}
