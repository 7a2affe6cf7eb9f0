using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Runtime.Loader;

namespace Omr.Loader
{
    /// <summary>
    /// The load context that holds Omr's dependencies on PowerShell 7.
    /// </summary>
    /// <remarks>
    /// Omr.dll (the cmdlets) is loaded by PowerShell into the default context. Its only reference
    /// to a dependency is Omr.Engine, which lives in the module's <c>dependencies</c> folder where
    /// the default context cannot find it; <see cref="Register"/> hooks
    /// <see cref="AssemblyLoadContext.Resolving"/> of the default context to answer that request
    /// from this context instead. Everything Omr.Engine needs then binds here first: assemblies in
    /// the dependencies folder (MailKit, MimeKit, DnsClient, BouncyCastle, ...) load privately, so
    /// another module's MailKit or MimeKit in the default context cannot collide with ours.
    /// Assemblies the runtime itself provides (System.*, netstandard) and PowerShell's own
    /// assemblies are shared with the default context, so types such as ChannelReader or
    /// PSObject have one identity on both sides of the Omr.dll / Omr.Engine boundary.
    /// </remarks>
    public sealed class OmrLoadContext : AssemblyLoadContext
    {
        private static readonly object Sync = new object();
        private static OmrLoadContext? _instance;
        private static HashSet<string>? _forwardedNames;

        private readonly string _dependencyDirectory;
        private readonly Dictionary<string, string> _platform;

        private OmrLoadContext(string dependencyDirectory)
            : base("Omr", isCollectible: false)
        {
            _dependencyDirectory = dependencyDirectory;
            _platform = ReadTrustedPlatformAssemblies();
        }

        /// <summary>The dependency folder this context loads from.</summary>
        public string DependencyDirectory => _dependencyDirectory;

        /// <summary>The single instance, once <see cref="Register"/> ran.</summary>
        public static OmrLoadContext? Instance => _instance;

        /// <summary>
        /// Creates the context (once per process) and routes the default context's failed binds
        /// for the assemblies <paramref name="moduleAssembly"/> references from the dependency
        /// folder into it. Called by reflection from Omr.dll; safe to call again on re-import.
        /// </summary>
        public static void Register(string dependencyDirectory, Assembly moduleAssembly)
        {
            if (dependencyDirectory is null) throw new ArgumentNullException(nameof(dependencyDirectory));
            if (moduleAssembly is null) throw new ArgumentNullException(nameof(moduleAssembly));

            lock (Sync)
            {
                _instance ??= new OmrLoadContext(Path.GetFullPath(dependencyDirectory));

                // Only what Omr.dll itself references (in practice Omr.Engine): the default
                // context must not start handing our MailKit to other modules.
                _forwardedNames = new HashSet<string>(
                    moduleAssembly.GetReferencedAssemblies()
                        .Select(a => a.Name)
                        .Where(n => n is not null && File.Exists(Path.Combine(_instance._dependencyDirectory, n + ".dll")))
                        .Select(n => n!),
                    StringComparer.OrdinalIgnoreCase);

                Default.Resolving -= ResolveFromDefault;
                Default.Resolving += ResolveFromDefault;
            }
        }

        /// <summary>Stops routing binds from the default context (module removed).</summary>
        public static void Unregister()
        {
            lock (Sync)
            {
                Default.Resolving -= ResolveFromDefault;
            }
        }

        private static Assembly? ResolveFromDefault(AssemblyLoadContext context, AssemblyName name)
        {
            var instance = _instance;
            var forwarded = _forwardedNames;
            if (instance is null || forwarded is null || name.Name is null || !forwarded.Contains(name.Name))
            {
                return null;
            }

            return instance.LoadFromAssemblyName(name);
        }

        /// <inheritdoc />
        protected override Assembly? Load(AssemblyName assemblyName)
        {
            var simpleName = assemblyName.Name;
            if (string.IsNullOrEmpty(simpleName))
            {
                return null;
            }

            // The runtime's and PowerShell's own assemblies: share the default context's copy when
            // it is at least the version asked for.
            if (_platform.TryGetValue(simpleName, out var platformPath)
                && (assemblyName.Version is null || VersionOf(platformPath) is not { } platformVersion || platformVersion >= assemblyName.Version))
            {
                return null;
            }

            var path = Path.Combine(_dependencyDirectory, simpleName + ".dll");
            if (File.Exists(path))
            {
                // Checked before loading: once a load context failed to load a name, it fails it for good.
                return LoadFromAssemblyPath(ReadyToRunCopy(_dependencyDirectory, simpleName, path) ?? path);
            }

            // Not ours (System.Management.Automation, satellite lookups, ...): fall back to default.
            return null;
        }

        /// <summary>The .NET version the copies in dependencies/r2r/ were compiled ahead of time for (build.ps1, src/Omr.ReadyToRun).</summary>
        public const int ReadyToRunFrameworkMajor = 10;

        /// <summary>
        /// The ahead-of-time (ReadyToRun) compiled copy of a dependency for this platform,
        /// dependencies/r2r/&lt;rid&gt;/&lt;name&gt;.dll, when it may stand in for the IL copy: on .NET
        /// <see cref="ReadyToRunFrameworkMajor"/> or later; only when its PE header says ReadyToRun
        /// code for this operating system and processor (a copy for another platform fails to load,
        /// and the load context would then refuse the IL copy too); and only when it is the same build
        /// (the same module version id as <paramref name="ilPath"/>), so a stale copy is never used.
        /// Null: load the IL copy (the runtime then compiles it just in time, as everywhere else).
        /// </summary>
        public static string? ReadyToRunCopy(string dependencyDirectory, string simpleName, string ilPath)
        {
            if (Environment.Version.Major < ReadyToRunFrameworkMajor) return null;
            var machine = ReadyToRunMachine();
            if (machine is null) return null;
            foreach (var rid in RuntimeIds())
            {
                var candidate = Path.Combine(dependencyDirectory, "r2r", rid, simpleName + ".dll");
                if (!File.Exists(candidate)) continue;
                var compiled = Identity(candidate);
                if (compiled is null || !compiled.Value.ReadyToRun || compiled.Value.Machine != machine.Value) return null;
                var il = Identity(ilPath);
                return il != null && il.Value.Mvid == compiled.Value.Mvid ? candidate : null;
            }
            return null;
        }

        /// <summary>
        /// The PE machine value of ReadyToRun code for this process: the processor's, XOR-ed with the
        /// operating system's marker (none on Windows), as crossgen2 writes it. Null: unknown platform.
        /// </summary>
        public static ushort? ReadyToRunMachine()
        {
            ushort arch = System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture switch
            {
                System.Runtime.InteropServices.Architecture.X64 => 0x8664,
                System.Runtime.InteropServices.Architecture.Arm64 => 0xAA64,
                System.Runtime.InteropServices.Architecture.X86 => 0x014C,
                System.Runtime.InteropServices.Architecture.Arm => 0x01C4,
                _ => 0,
            };
            if (arch == 0) return null;
            if (OperatingSystem.IsWindows()) return arch;
            if (OperatingSystem.IsLinux()) return (ushort)(arch ^ 0x7B79);
            if (OperatingSystem.IsMacOS()) return (ushort)(arch ^ 0x4644);
            if (OperatingSystem.IsFreeBSD()) return (ushort)(arch ^ 0xADC4);
            return null;
        }

        private static (Guid Mvid, ushort Machine, bool ReadyToRun)? Identity(string path)
        {
            try
            {
                using var stream = File.OpenRead(path);
                using var pe = new System.Reflection.PortableExecutable.PEReader(stream);
                if (!pe.HasMetadata) return null;
                var headers = pe.PEHeaders;
                var md = System.Reflection.Metadata.PEReaderExtensions.GetMetadataReader(pe);
                bool readyToRun = headers.CorHeader is { } cor && cor.ManagedNativeHeaderDirectory.Size > 0;
                return (md.GetGuid(md.GetModuleDefinition().Mvid), (ushort)headers.CoffHeader.Machine, readyToRun);
            }
            catch (Exception e) when (e is BadImageFormatException || e is IOException || e is UnauthorizedAccessException || e is InvalidOperationException)
            {
                return null;
            }
        }

        /// <inheritdoc />
        /// <remarks>
        /// Native libraries of our dependencies (e_sqlite3 for the -StatePath database, P/Invoked by
        /// SQLitePCLRaw) ship in dependencies/runtimes/&lt;rid&gt;/native: the runtime asks the load
        /// context of the assembly that calls them, so they are found here for this platform.
        /// </remarks>
        protected override IntPtr LoadUnmanagedDll(string unmanagedDllName)
        {
            var path = NativeLibraryPath(_dependencyDirectory, unmanagedDllName);
            return path is null ? IntPtr.Zero : LoadUnmanagedDllFromPath(path);
        }

        /// <summary>The file of a native library for this process's platform, or null when the module does not ship it.</summary>
        public static string? NativeLibraryPath(string dependencyDirectory, string name)
        {
            if (string.IsNullOrEmpty(name)) return null;
            var baseName = Path.GetFileNameWithoutExtension(name);
            if (baseName.StartsWith("lib", StringComparison.Ordinal)) baseName = baseName.Substring(3);
            string file;
            if (OperatingSystem.IsWindows()) file = baseName + ".dll";
            else if (OperatingSystem.IsMacOS()) file = "lib" + baseName + ".dylib";
            else file = "lib" + baseName + ".so";
            foreach (var rid in RuntimeIds())
            {
                var candidate = Path.Combine(dependencyDirectory, "runtimes", rid, "native", file);
                if (File.Exists(candidate)) return candidate;
            }
            return null;
        }

        private static IEnumerable<string> RuntimeIds()
        {
            var arch = System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture.ToString().ToLowerInvariant();
            if (OperatingSystem.IsWindows()) { yield return "win-" + arch; yield break; }
            if (OperatingSystem.IsMacOS()) { yield return "osx-" + arch; yield break; }
            if (IsMusl()) yield return "linux-musl-" + arch;
            yield return "linux-" + arch;
        }

        private static bool IsMusl()
        {
            try
            {
                return Directory.Exists("/lib") && Directory.GetFiles("/lib", "ld-musl-*").Length > 0;
            }
            catch (Exception e) when (e is IOException || e is UnauthorizedAccessException)
            {
                return false;
            }
        }

        private static Dictionary<string, string> ReadTrustedPlatformAssemblies()
        {
            var result = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            if (AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES") is string tpa)
            {
                foreach (var path in tpa.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
                {
                    result.TryAdd(Path.GetFileNameWithoutExtension(path), path);
                }
            }

            return result;
        }

        private static Version? VersionOf(string path)
        {
            try
            {
                return AssemblyName.GetAssemblyName(path).Version;
            }
            catch (Exception e) when (e is BadImageFormatException || e is IOException || e is UnauthorizedAccessException)
            {
                return null; // unknown: treat as satisfying (share the platform's copy)
            }
        }
    }
}
