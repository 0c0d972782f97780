// AllowProfiles: the callables that ordinary models' pickles use, under every spelling pickle protocols write.

/// Built-in allow profiles.
public enum AllowProfiles {
    /// Plain data types of the standard library, under Python 3 and Python 2 (protocol 0-2 fix_imports) names.
    public static let standardLibrary: Set<String> = {
        var names: Set<String> = []
        for module in ["builtins", "__builtin__"] {
            for type in ["set", "frozenset", "complex", "bytearray", "slice", "range", "xrange", "dict", "list", "tuple",
                         "int", "long", "float", "str", "unicode", "bytes", "bool", "object", "NoneType", "Ellipsis",
                         "NotImplemented"] {
                names.insert("\(module).\(type)")
            }
        }
        names.formUnion([
            "copyreg._reconstructor", "copy_reg._reconstructor", "copyreg.__newobj__", "copy_reg.__newobj__",
            "_codecs.encode",
            "collections.OrderedDict", "collections.defaultdict", "collections.deque", "collections.Counter",
            "datetime.datetime", "datetime.date", "datetime.time", "datetime.timedelta", "datetime.timezone",
            "decimal.Decimal", "fractions.Fraction", "uuid.UUID",
        ])
        return names
    }()

    /// PyTorch tensor rebuilds, storages, sizes, dtypes and devices.
    public static let pytorch: Set<String> = {
        var names: Set<String> = [
            "torch._utils._rebuild_tensor", "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor_v3",
            "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state",
            "torch._utils._rebuild_qtensor", "torch._utils._rebuild_sparse_tensor", "torch._utils._rebuild_nested_tensor",
            "torch._utils._rebuild_device_tensor_from_numpy", "torch._utils._rebuild_meta_tensor_no_storage",
            "torch._tensor._rebuild_from_type_v2", "torch._tensor._rebuild_from_type",
            "torch.Size", "torch.device", "torch.Tensor", "torch.nn.parameter.Parameter", "torch.storage.UntypedStorage",
            "torch.storage.TypedStorage", "torch.serialization._get_layout", "torch.per_tensor_affine",
        ]
        for storage in ["Float", "Double", "Half", "BFloat16", "Long", "Int", "Short", "Char", "Byte", "Bool",
                        "ComplexFloat", "ComplexDouble", "QInt8", "QUInt8", "QInt32", "Untyped"] {
            names.insert("torch.\(storage)Storage")
            // Legacy (tar) checkpoints name the tensor and CUDA storage classes too.
            names.insert("torch.cuda.\(storage)Storage")
            if storage != "Untyped" { names.insert("torch.\(storage)Tensor") }
        }
        for dtype in ["float32", "float", "float64", "double", "float16", "half", "bfloat16", "int64", "long", "int32",
                      "int", "int16", "short", "int8", "uint8", "bool", "complex64", "complex128", "float8_e4m3fn",
                      "float8_e5m2", "uint16", "uint32", "uint64"] {
            names.insert("torch.\(dtype)")
        }
        for layout in ["strided", "sparse_coo", "sparse_csr"] { names.insert("torch.\(layout)") }
        return names
    }()

    /// NumPy array reconstruction and dtypes (NumPy 1 and 2 module names).
    public static let numpy: Set<String> = [
        "numpy.core.multiarray._reconstruct", "numpy._core.multiarray._reconstruct",
        "numpy.core.multiarray.scalar", "numpy._core.multiarray.scalar", "numpy.ndarray", "numpy.dtype",
        "numpy.core.numeric._frombuffer", "numpy._core.numeric._frombuffer", "numpy.ma.core._mareconstruct",
        "numpy.random._pickle.__randomstate_ctor", "numpy.random._pickle.__bit_generator_ctor",
        "numpy.random._pickle.__generator_ctor",
    ]

    /// joblib's NumPy wrappers.
    public static let joblib: Set<String> = [
        "joblib.numpy_pickle.NumpyArrayWrapper", "joblib.numpy_pickle_compat.NDArrayWrapper",
        "joblib.numpy_pickle_compat.ZNDArrayWrapper", "sklearn.externals.joblib.numpy_pickle.NumpyArrayWrapper",
    ]

    /// Everything above.
    public static let all: Set<String> = standardLibrary.union(pytorch).union(numpy).union(joblib)

    /// Prefixes allowed as a family: scikit-learn estimators (their classes live under `sklearn.`) and
    /// PyTorch module classes of full-model pickles. The dangerous list still takes precedence.
    public static let allPrefixes: [String] = ["sklearn.", "torch.nn.modules."]
}
