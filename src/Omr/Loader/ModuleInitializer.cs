using System;
using System.IO;
using System.Management.Automation;
using System.Reflection;

namespace Omr.Loader
{
    /// <summary>
    /// Makes the module's dependencies (in the <c>dependencies</c> folder next to Omr.dll)
    /// resolvable without letting them collide with other modules' copies.
    /// </summary>
    /// <remarks>
    /// The manifest's nested module Omr.Init.psm1 loads Omr.dll and calls <see cref="Initialize"/>
    /// before PowerShell loads the root module Omr.dll: PowerShell's scan of the cmdlet types already
    /// needs Omr.Engine (a parameter of an engine enum type makes the CLR load it with the cmdlet
    /// type), which is before any <see cref="IModuleAssemblyInitializer"/> runs.
    /// PowerShell 7: loads <c>dependencies/Omr.Loader.dll</c> (net8.0) and calls
    /// <c>Omr.Loader.OmrLoadContext.Register</c>, which puts Omr.Engine, the mail libraries,
    /// the DNS client, ... in their own AssemblyLoadContext. Reflection keeps this assembly
    /// netstandard2.0 (AssemblyLoadContext cannot be subclassed from netstandard2.0).
    /// Windows PowerShell 5.1 has no load contexts: the dependencies are resolved from the same
    /// folder through <see cref="AppDomain.AssemblyResolve"/>.
    /// <see cref="OnImport"/> calls <see cref="Initialize"/> again (a no-op) for imports that skip
    /// the manifest.
    /// </remarks>
    public sealed class ModuleInitializer : IModuleAssemblyInitializer, IModuleAssemblyCleanup
    {
        /// <summary>Folder name, relative to Omr.dll, that holds every dependency.</summary>
        public const string DependencyFolderName = "dependencies";

        private const string LoaderAssemblyName = "Omr.Loader";
        private const string LoaderTypeName = "Omr.Loader.OmrLoadContext";

        private static readonly object Sync = new object();
        private static bool _desktopHooked;

        /// <summary>The dependencies folder of the imported module.</summary>
        public static string DependencyDirectory { get; } = Path.Combine(
            Path.GetDirectoryName(typeof(ModuleInitializer).Assembly.Location) ?? string.Empty,
            DependencyFolderName);

        /// <summary>True when the dependencies live in their own AssemblyLoadContext (PowerShell 7).</summary>
        public static bool IsIsolated { get; private set; }

        /// <inheritdoc />
        public void OnImport() => Initialize();

        /// <summary>
        /// Hooks dependency resolution (idempotent). Must run before the cmdlet types are loaded;
        /// touches no Omr.Engine type.
        /// </summary>
        public static void Initialize()
        {
            lock (Sync)
            {
                if (IsIsolated)
                {
                    return;
                }

                if (HasAssemblyLoadContext())
                {
                    var loaderType = LoadLoaderType();
                    loaderType.GetMethod("Register", BindingFlags.Public | BindingFlags.Static)!
                        .Invoke(null, new object[] { DependencyDirectory, typeof(ModuleInitializer).Assembly });
                    IsIsolated = true;
                }
                else if (!_desktopHooked)
                {
                    AppDomain.CurrentDomain.AssemblyResolve += ResolveOnDesktop;
                    _desktopHooked = true;
                    PreloadNativeOnDesktop();
                }
            }
        }

        /// <inheritdoc />
        public void OnRemove(PSModuleInfo psModuleInfo)
        {
            lock (Sync)
            {
                if (IsIsolated)
                {
                    LoadLoaderType().GetMethod("Unregister", BindingFlags.Public | BindingFlags.Static)!
                        .Invoke(null, Array.Empty<object>());
                    IsIsolated = false;
                }
                else if (_desktopHooked)
                {
                    AppDomain.CurrentDomain.AssemblyResolve -= ResolveOnDesktop;
                    _desktopHooked = false;
                }
            }
        }

        /// <summary>
        /// Windows PowerShell: DllImport("e_sqlite3") (SQLitePCLRaw, the -StatePath database) looks in
        /// powershell.exe's folder and PATH, not ours; loading the module's copy first by full path
        /// makes every later DllImport of that name bind to it.
        /// </summary>
        private static void PreloadNativeOnDesktop()
        {
            if (Environment.OSVersion.Platform != PlatformID.Win32NT) return;
            var arch = System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture == System.Runtime.InteropServices.Architecture.Arm64 ? "win-arm64" : "win-x64";
            var path = Path.Combine(DependencyDirectory, "runtimes", arch, "native", "e_sqlite3.dll");
            if (File.Exists(path)) LoadLibraryW(path);
        }

        [System.Runtime.InteropServices.DllImport("kernel32", CharSet = System.Runtime.InteropServices.CharSet.Unicode, SetLastError = true)]
        private static extern IntPtr LoadLibraryW(string path);

        private static bool HasAssemblyLoadContext()
            => Type.GetType("System.Runtime.Loader.AssemblyLoadContext, System.Runtime.Loader", throwOnError: false) is not null
               || Type.GetType("System.Runtime.Loader.AssemblyLoadContext", throwOnError: false) is not null;

        private static Type LoadLoaderType()
        {
            var path = Path.Combine(DependencyDirectory, LoaderAssemblyName + ".dll");
            // The loader is tiny and uniquely named: it lives in the default context (LoadFrom),
            // once per process; a second LoadFrom of the same path returns the same assembly.
            var assembly = Assembly.LoadFrom(path);
            return assembly.GetType(LoaderTypeName, throwOnError: true)!;
        }

        private static Assembly? ResolveOnDesktop(object? sender, ResolveEventArgs args)
        {
            var requested = new AssemblyName(args.Name);
            if (string.IsNullOrEmpty(requested.Name))
            {
                return null;
            }

            // Only for binds made by Omr's own assemblies (or unknown requesters, e.g. Type.GetType).
            var requester = args.RequestingAssembly;
            if (requester is not null && requester != typeof(ModuleInitializer).Assembly
                && !IsInDependencyDirectory(requester))
            {
                return null;
            }

            var path = Path.Combine(DependencyDirectory, requested.Name + ".dll");
            if (!File.Exists(path))
            {
                return null;
            }

            var candidate = AssemblyName.GetAssemblyName(path);
            if (requested.Version is not null && candidate.Version is not null && candidate.Version < requested.Version)
            {
                return null;
            }

            return Assembly.LoadFrom(path);
        }

        private static bool IsInDependencyDirectory(Assembly assembly)
        {
            try
            {
                var location = assembly.Location;
                return !string.IsNullOrEmpty(location)
                    && string.Equals(Path.GetDirectoryName(location), DependencyDirectory, StringComparison.OrdinalIgnoreCase);
            }
            catch (NotSupportedException)
            {
                return false; // dynamic assembly
            }
        }
    }
}
