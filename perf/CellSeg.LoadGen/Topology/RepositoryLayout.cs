namespace CellSeg.LoadGen.Topology;

/// <summary>Where things are in a clone: found by walking up to <c>CellSeg.sln</c> from the running assembly.</summary>
public static class RepositoryLayout
{
    public static string Root { get; } = FindRoot();

    /// <summary>The build configuration this process was built in (Debug or Release), used for the services too.</summary>
    public static string Configuration { get; } =
        new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)).Parent?.Name ?? "Debug";

    public static string ServiceAssembly(string project) =>
        Path.Combine(Root, project, "bin", Configuration, "net10.0", $"{project}.dll");

    public static string DemoImages => Path.Combine(Root, "demo", "images");

    private static string FindRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "CellSeg.sln")))
            {
                return directory.FullName;
            }
        }

        throw new DirectoryNotFoundException($"No CellSeg.sln above {AppContext.BaseDirectory}.");
    }
}
