// DangerousCallables: the curated list of callables known to run code, load code, or reach files and networks.

/// Callables whose import raises a finding to critical. This list never decides what is allowed.
public enum DangerousCallables {
    /// Whole modules (and their submodules) that run processes, load code or reach outside the process.
    static let modules: [String: String] = [
        "os": "process execution and file access", "posix": "process execution", "nt": "process execution",
        "subprocess": "process execution", "pty": "process execution", "commands": "process execution",
        "popen2": "process execution", "multiprocessing": "process execution", "asyncio": "process and network access",
        "importlib": "import machinery", "imp": "import machinery", "pkgutil": "import machinery and name resolution",
        "runpy": "runs modules", "pip": "installs packages", "setuptools": "runs build code", "distutils": "runs build code",
        "socket": "network access", "ssl": "network access", "http": "network access", "urllib": "network access",
        "urllib2": "network access", "requests": "network access", "httplib": "network access", "ftplib": "network access",
        "smtplib": "network access", "telnetlib": "network access", "webbrowser": "opens URLs",
        "shutil": "file system changes", "tempfile": "file system access", "glob": "file system access",
        "pathlib": "file system access", "io": "file access", "fileinput": "file access", "zipfile": "file access",
        "tarfile": "file access", "ctypes": "native code", "cffi": "native code", "sys": "interpreter internals",
        "code": "runs code", "codeop": "compiles code", "marshal": "loads code objects", "types": "builds code objects",
        "pickle": "nested unpickling", "_pickle": "nested unpickling", "cPickle": "nested unpickling",
        "dill": "nested unpickling", "cloudpickle": "nested unpickling", "shelve": "nested unpickling",
        "timeit": "runs code", "cProfile": "runs code", "profile": "runs code", "pdb": "runs code", "bdb": "runs code",
        "trace": "runs code", "doctest": "runs code", "signal": "process control", "threading": "runs callables",
        "_thread": "runs callables", "thread": "runs callables", "gc": "interpreter internals",
        "builtins.__loader__": "import machinery", "inspect": "interpreter internals", "site": "import machinery",
        "venv": "runs code", "ensurepip": "installs packages", "sqlite3": "file access", "dbm": "file access",
    ]

    /// Single callables in otherwise ordinary modules.
    static let callables: [String: String] = [
        "builtins.eval": "evaluates code", "builtins.exec": "executes code", "builtins.compile": "compiles code",
        "builtins.__import__": "import machinery", "builtins.open": "file access", "builtins.getattr": "attribute-getter chains",
        "builtins.setattr": "attribute writes", "builtins.delattr": "attribute writes", "builtins.globals": "interpreter internals",
        "builtins.locals": "interpreter internals", "builtins.vars": "interpreter internals", "builtins.input": "reads input",
        "builtins.breakpoint": "runs a debugger", "builtins.help": "runs a pager", "builtins.memoryview": "raw memory",
        "builtins.exit": "process control", "builtins.quit": "process control", "builtins.apply": "calls callables",
        "builtins.execfile": "executes files", "builtins.reload": "import machinery", "builtins.file": "file access",
        "builtins.type": "builds classes", "builtins.super": "attribute access", "builtins.classmethod": "builds callables",
        "builtins.staticmethod": "builds callables", "builtins.property": "builds callables", "builtins.map": "calls callables",
        "builtins.filter": "calls callables",
        "operator.attrgetter": "attribute-getter chains", "operator.methodcaller": "calls methods by name",
        "operator.itemgetter": "item-getter chains", "operator.getitem": "item access on arbitrary objects",
        "functools.partial": "builds callables", "functools.reduce": "calls callables",
        "torch.load": "nested unpickling", "torch.storage._load_from_bytes": "nested unpickling",
        "torch.serialization.load": "nested unpickling", "torch.hub.load": "downloads and runs code",
        "torch.jit.load": "loads TorchScript", "torch._C._jit_pass_onnx": "native code",
        "numpy.load": "nested unpickling (allow_pickle)", "numpy.lib.npyio.load": "nested unpickling",
        "numpy.testing._private.utils.runstring": "executes code", "numpy.f2py.crackfortran.myeval": "evaluates code",
        "joblib.load": "nested unpickling", "pandas.read_pickle": "nested unpickling",
        "keras.models.load_model": "loads code", "tensorflow.io.read_file": "file access",
        "tensorflow.io.write_file": "file access", "yaml.load": "unsafe YAML", "yaml.unsafe_load": "unsafe YAML",
        "jinja2.Template": "template execution",
    ]

    /// Why importing `module.name` is dangerous, or `nil` when it is not on the list.
    public static func reason(module: String, name: String) -> String? {
        var normalizedModule = module
        if module == "__builtin__" || module == "__builtins__" { normalizedModule = "builtins" }
        let qualified = normalizedModule + "." + name
        if let r = callables[qualified] { return r }
        // Dotted names resolve attribute chains: builtins.getattr.x or os.path.join start with a listed entry.
        for (entry, r) in callables where qualified.hasPrefix(entry + ".") { return r }
        let root = normalizedModule.split(separator: ".").first.map(String.init) ?? normalizedModule
        if let r = modules[root] { return r }
        // A name that is itself a dotted path into a dangerous module (GLOBAL "builtins" "os.system" style tricks).
        if let first = name.split(separator: ".").first, let r = modules[String(first)], normalizedModule == "builtins" {
            return r
        }
        return nil
    }
}
