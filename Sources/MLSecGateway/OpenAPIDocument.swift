// OpenAPIDocument: the gateway API as OpenAPI 3.0, generated from docs/openapi.json by
// scripts/embed-openapi.py (do not edit by hand).

enum OpenAPIDocument {
    static let text = #"""
{
  "openapi": "3.0.3",
  "info": {
    "title": "MLSec inference gateway",
    "version": "0.1.0",
    "description": "KServe Open Inference Protocol (V2) REST API with API-key authentication, role-based authorization, rate limiting, input/output validation, signed receipts and a tamper-evident audit log; plus the admin API."
  },
  "components": {
    "securitySchemes": {
      "bearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "API key: mlsec_<id>_<secret>"
      }
    },
    "schemas": {
      "Error": {
        "type": "object",
        "required": [
          "error"
        ],
        "properties": {
          "error": {
            "type": "string"
          }
        }
      }
    },
    "responses": {
      "Error": {
        "description": "Error",
        "content": {
          "application/json": {
            "schema": {
              "$ref": "#/components/schemas/Error"
            }
          }
        }
      }
    }
  },
  "paths": {
    "/v2/health/live": {
      "get": {
        "summary": "Liveness",
        "security": [],
        "responses": {
          "200": {
            "description": "Live",
            "content": {
              "application/json": {
                "schema": {
                  "type": "object",
                  "required": [
                    "live"
                  ],
                  "properties": {
                    "live": {
                      "type": "boolean"
                    }
                  }
                }
              }
            }
          }
        }
      }
    },
    "/v2/health/ready": {
      "get": {
        "summary": "Readiness",
        "security": [],
        "responses": {
          "200": {
            "description": "Ready",
            "content": {
              "application/json": {
                "schema": {
                  "type": "object",
                  "required": [
                    "ready"
                  ],
                  "properties": {
                    "ready": {
                      "type": "boolean"
                    }
                  }
                }
              }
            }
          }
        }
      }
    },
    "/v2": {
      "get": {
        "summary": "Server metadata",
        "security": [
          {
            "bearer": []
          }
        ],
        "responses": {
          "200": {
            "description": "Server metadata",
            "content": {
              "application/json": {
                "schema": {
                  "type": "object",
                  "required": [
                    "name",
                    "version",
                    "extensions"
                  ],
                  "properties": {
                    "name": {
                      "type": "string"
                    },
                    "version": {
                      "type": "string"
                    },
                    "extensions": {
                      "type": "array",
                      "items": {
                        "type": "string"
                      }
                    }
                  }
                }
              }
            }
          },
          "401": {
            "$ref": "#/components/responses/Error"
          },
          "429": {
            "$ref": "#/components/responses/Error"
          }
        }
      }
    },
    "/v2/models/{model}": {
      "get": {
        "summary": "Model metadata",
        "security": [
          {
            "bearer": []
          }
        ],
        "parameters": [
          {
            "name": "model",
            "in": "path",
            "required": true,
            "schema": {
              "type": "string",
              "maxLength": 200
            }
          }
        ],
        "responses": {
          "200": {
            "description": "Model metadata",
            "content": {
              "application/json": {
                "schema": {
                  "type": "object",
                  "required": [
                    "name",
                    "versions",
                    "platform",
                    "inputs",
                    "outputs"
                  ],
                  "properties": {
                    "name": {
                      "type": "string"
                    },
                    "versions": {
                      "type": "array",
                      "items": {
                        "type": "string"
                      }
                    },
                    "platform": {
                      "type": "string"
                    },
                    "inputs": {
                      "type": "array",
                      "items": {
                        "type": "object",
                        "required": [
                          "name",
                          "datatype",
                          "shape"
                        ],
                        "properties": {
                          "name": {
                            "type": "string"
                          },
                          "datatype": {
                            "type": "string"
                          },
                          "shape": {
                            "type": "array",
                            "items": {
                              "type": "integer"
                            }
                          }
                        }
                      }
                    },
                    "outputs": {
                      "type": "array",
                      "items": {
                        "type": "object",
                        "required": [
                          "name",
                          "datatype",
                          "shape"
                        ],
                        "properties": {
                          "name": {
                            "type": "string"
                          },
                          "datatype": {
                            "type": "string"
                          },
                          "shape": {
                            "type": "array",
                            "items": {
                              "type": "integer"
                            }
                          }
                        }
                      }
                    }
                  }
                }
              }
            }
          },
          "401": {
            "$ref": "#/components/responses/Error"
          },
          "403": {
            "$ref": "#/components/responses/Error"
          },
          "404": {
            "$ref": "#/components/responses/Error"
          },
          "429": {
            "$ref": "#/components/responses/Error"
          }
        }
      }
    },
    "/v2/models/{model}/versions/{version}": {
      "get": {
        "summary": "Model version metadata",
        "security": [
          {
            "bearer": []
          }
        ],
        "parameters": [
          {
            "name": "model",
            "in": "path",
            "required": true,
            "schema": {
              "type": "string",
              "maxLength": 200
            }
          },
          {
            "name": "version",
            "in": "path",
            "required": true,
            "schema": {
              "type": "string",
              "maxLength": 200
            }
          }
        ],
        "responses": {
          "200": {
            "description": "Model metadata",
            "content": {
              "application/json": {
                "schema": {
                  "type": "object",
                  "required": [
                    "name",
                    "versions",
                    "platform",
                    "inputs",
                    "outputs"
                  ],
                  "properties": {
                    "name": {
                      "type": "string"
                    },
                    "versions": {
                      "type": "array",
                      "items": {
                        "type": "string"
                      }
                    },
                    "platform": {
                      "type": "string"
                    },
                    "inputs": {
                      "type": "array",
                      "items": {
                        "type": "object",
                        "required": [
                          "name",
                          "datatype",
                          "shape"
                        ],
                        "properties": {
                          "name": {
                            "type": "string"
                          },
                          "datatype": {
                            "type": "string"
                          },
                          "shape": {
                            "type": "array",
                            "items": {
                              "type": "integer"
                            }
                          }
                        }
                      }
                    },
                    "outputs": {
                      "type": "array",
                      "items": {
                        "type": "object",
                        "required": [
                          "name",
                          "datatype",
                          "shape"
                        ],
                        "properties": {
                          "name": {
                            "type": "string"
                          },
                          "datatype": {
                            "type": "string"
                          },
                          "shape": {
                            "type": "array",
                            "items": {
                              "type": "integer"
                            }
                          }
                        }
                      }
                    }
                  }
                }
              }
            }
          },
          "401": {
            "$ref": "#/components/responses/Error"
          },
          "403": {
            "$ref": "#/components/responses/Error"
          },
          "404": {
            "$ref": "#/components/responses/Error"
          },
          "429": {
            "$ref": "#/components/responses/Error"
          }
        }
      }
    },
    "/v2/models/{model}/ready": {
      "get": {
        "summary": "Model readiness",
        "security": [
          {
            "bearer": []
          }
        ],
        "parameters": [
          {
            "name": "model",
            "in": "path",
            "required": true,
            "schema": {
              "type": "string",
              "maxLength": 200
            }
          }
        ],
        "responses": {
          "200": {
            "description": "Ready",
            "content": {
              "application/json": {
                "schema": {
                  "type": "object",
                  "properties": {
                    "name": {
                      "type": "string"
                    },
                    "ready": {
                      "type": "boolean"
                    }
                  }
                }
              }
            }
          },
          "401": {
            "$ref": "#/components/responses/Error"
          },
          "403": {
            "$ref": "#/components/responses/Error"
          },
          "404": {
            "$ref": "#/components/responses/Error"
          },
          "429": {
            "$ref": "#/components/responses/Error"
          }
        }
      }
    },
    "/v2/models/{model}/versions/{version}/ready": {
      "get": {
        "summary": "Model version readiness",
        "security": [
          {
            "bearer": []
          }
        ],
        "parameters": [
          {
            "name": "model",
            "in": "path",
            "required": true,
            "schema": {
              "type": "string",
              "maxLength": 200
            }
          },
          {
            "name": "version",
            "in": "path",
            "required": true,
            "schema": {
              "type": "string",
              "maxLength": 200
            }
          }
        ],
        "responses": {
          "200": {
            "description": "Ready",
            "content": {
              "application/json": {
                "schema": {
                  "type": "object",
                  "properties": {
                    "name": {
                      "type": "string"
                    },
                    "ready": {
                      "type": "boolean"
                    }
                  }
                }
              }
            }
          },
          "401": {
            "$ref": "#/components/responses/Error"
          },
          "403": {
            "$ref": "#/components/responses/Error"
          },
          "404": {
            "$ref": "#/components/responses/Error"
          },
          "429": {
            "$ref": "#/components/responses/Error"
          }
        }
      }
    },
    "/v2/models/{model}/infer": {
      "post": {
        "summary": "Run inference (KServe V2; JSON tensors or the binary tensor extension)",
        "security": [
          {
            "bearer": []
          }
        ],
        "parameters": [
          {
            "name": "model",
            "in": "path",
            "required": true,
            "schema": {
              "type": "string",
              "maxLength": 200
            }
          },
          {
            "name": "Inference-Header-Content-Length",
            "in": "header",
            "required": false,
            "schema": {
              "type": "integer",
              "minimum": 0
            }
          }
        ],
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "type": "object",
                "required": [
                  "inputs"
                ],
                "additionalProperties": false,
                "properties": {
                  "id": {
                    "type": "string"
                  },
                  "parameters": {
                    "type": "object",
                    "properties": {
                      "binary_data_output": {
                        "type": "boolean"
                      }
                    }
                  },
                  "inputs": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": 1,
                    "items": {
                      "type": "object",
                      "required": [
                        "name",
                        "shape",
                        "datatype"
                      ],
                      "properties": {
                        "name": {
                          "type": "string"
                        },
                        "shape": {
                          "type": "array",
                          "items": {
                            "type": "integer",
                            "minimum": 0
                          }
                        },
                        "datatype": {
                          "type": "string"
                        },
                        "parameters": {
                          "type": "object",
                          "properties": {
                            "binary_data_size": {
                              "type": "integer",
                              "minimum": 0
                            }
                          }
                        },
                        "data": {
                          "type": "array",
                          "items": {}
                        }
                      }
                    }
                  },
                  "outputs": {
                    "type": "array",
                    "items": {
                      "type": "object",
                      "required": [
                        "name"
                      ],
                      "properties": {
                        "name": {
                          "type": "string"
                        },
                        "parameters": {
                          "type": "object",
                          "properties": {
                            "binary_data": {
                              "type": "boolean"
                            }
                          }
                        }
                      }
                    }
                  }
                }
              }
            },
            "application/octet-stream": {
              "schema": {
                "type": "string",
                "format": "binary"
              }
            }
          }
        },
        "responses": {
          "200": {
            "description": "Inference result",
            "headers": {
              "MLSec-Receipt": {
                "description": "Signed inference receipt: base64url JSON with an Ed25519 signature",
                "schema": {
                  "type": "string"
                }
              }
            },
            "content": {
              "application/json": {
                "schema": {
                  "type": "object",
                  "required": [
                    "model_name",
                    "outputs"
                  ],
                  "properties": {
                    "model_name": {
                      "type": "string"
                    },
                    "model_version": {
                      "type": "string"
                    },
                    "id": {
                      "type": "string"
                    },
                    "outputs": {
                      "type": "array",
                      "items": {
                        "type": "object",
                        "required": [
                          "name",
                          "datatype",
                          "shape"
                        ],
                        "properties": {
                          "name": {
                            "type": "string"
                          },
                          "datatype": {
                            "type": "string"
                          },
                          "shape": {
                            "type": "array",
                            "items": {
                              "type": "integer"
                            }
                          },
                          "data": {
                            "type": "array",
                            "items": {
                              "type": "number"
                            }
                          },
                          "parameters": {
                            "type": "object"
                          }
                        }
                      }
                    }
                  }
                }
              },
              "application/octet-stream": {
                "schema": {
                  "type": "string",
                  "format": "binary"
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/Error"
          },
          "401": {
            "$ref": "#/components/responses/Error"
          },
          "403": {
            "$ref": "#/components/responses/Error"
          },
          "404": {
            "$ref": "#/components/responses/Error"
          },
          "413": {
            "$ref": "#/components/responses/Error"
          },
          "415": {
            "$ref": "#/components/responses/Error"
          },
          "429": {
            "$ref": "#/components/responses/Error"
          },
          "500": {
            "$ref": "#/components/responses/Error"
          }
        }
      }
    },
    "/v2/models/{model}/versions/{version}/infer": {
      "post": {
        "summary": "Run inference (KServe V2; JSON tensors or the binary tensor extension)",
        "security": [
          {
            "bearer": []
          }
        ],
        "parameters": [
          {
            "name": "model",
            "in": "path",
            "required": true,
            "schema": {
              "type": "string",
              "maxLength": 200
            }
          },
          {
            "name": "version",
            "in": "path",
            "required": true,
            "schema": {
              "type": "string",
              "maxLength": 200
            }
          },
          {
            "name": "Inference-Header-Content-Length",
            "in": "header",
            "required": false,
            "schema": {
              "type": "integer",
              "minimum": 0
            }
          }
        ],
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "type": "object",
                "required": [
                  "inputs"
                ],
                "additionalProperties": false,
                "properties": {
                  "id": {
                    "type": "string"
                  },
                  "parameters": {
                    "type": "object",
                    "properties": {
                      "binary_data_output": {
                        "type": "boolean"
                      }
                    }
                  },
                  "inputs": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": 1,
                    "items": {
                      "type": "object",
                      "required": [
                        "name",
                        "shape",
                        "datatype"
                      ],
                      "properties": {
                        "name": {
                          "type": "string"
                        },
                        "shape": {
                          "type": "array",
                          "items": {
                            "type": "integer",
                            "minimum": 0
                          }
                        },
                        "datatype": {
                          "type": "string"
                        },
                        "parameters": {
                          "type": "object",
                          "properties": {
                            "binary_data_size": {
                              "type": "integer",
                              "minimum": 0
                            }
                          }
                        },
                        "data": {
                          "type": "array",
                          "items": {}
                        }
                      }
                    }
                  },
                  "outputs": {
                    "type": "array",
                    "items": {
                      "type": "object",
                      "required": [
                        "name"
                      ],
                      "properties": {
                        "name": {
                          "type": "string"
                        },
                        "parameters": {
                          "type": "object",
                          "properties": {
                            "binary_data": {
                              "type": "boolean"
                            }
                          }
                        }
                      }
                    }
                  }
                }
              }
            },
            "application/octet-stream": {
              "schema": {
                "type": "string",
                "format": "binary"
              }
            }
          }
        },
        "responses": {
          "200": {
            "description": "Inference result",
            "headers": {
              "MLSec-Receipt": {
                "description": "Signed inference receipt: base64url JSON with an Ed25519 signature",
                "schema": {
                  "type": "string"
                }
              }
            },
            "content": {
              "application/json": {
                "schema": {
                  "type": "object",
                  "required": [
                    "model_name",
                    "outputs"
                  ],
                  "properties": {
                    "model_name": {
                      "type": "string"
                    },
                    "model_version": {
                      "type": "string"
                    },
                    "id": {
                      "type": "string"
                    },
                    "outputs": {
                      "type": "array",
                      "items": {
                        "type": "object",
                        "required": [
                          "name",
                          "datatype",
                          "shape"
                        ],
                        "properties": {
                          "name": {
                            "type": "string"
                          },
                          "datatype": {
                            "type": "string"
                          },
                          "shape": {
                            "type": "array",
                            "items": {
                              "type": "integer"
                            }
                          },
                          "data": {
                            "type": "array",
                            "items": {
                              "type": "number"
                            }
                          },
                          "parameters": {
                            "type": "object"
                          }
                        }
                      }
                    }
                  }
                }
              },
              "application/octet-stream": {
                "schema": {
                  "type": "string",
                  "format": "binary"
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/Error"
          },
          "401": {
            "$ref": "#/components/responses/Error"
          },
          "403": {
            "$ref": "#/components/responses/Error"
          },
          "404": {
            "$ref": "#/components/responses/Error"
          },
          "413": {
            "$ref": "#/components/responses/Error"
          },
          "415": {
            "$ref": "#/components/responses/Error"
          },
          "429": {
            "$ref": "#/components/responses/Error"
          },
          "500": {
            "$ref": "#/components/responses/Error"
          }
        }
      }
    },
    "/admin/keys": {
      "get": {
        "summary": "List API keys (no secrets)",
        "security": [
          {
            "bearer": []
          }
        ],
        "responses": {
          "200": {
            "description": "Keys",
            "content": {
              "application/json": {
                "schema": {
                  "type": "object",
                  "required": [
                    "keys"
                  ],
                  "properties": {
                    "keys": {
                      "type": "array",
                      "items": {
                        "type": "object",
                        "required": [
                          "id",
                          "name",
                          "role",
                          "models",
                          "created",
                          "revoked"
                        ],
                        "properties": {
                          "id": {
                            "type": "string"
                          },
                          "name": {
                            "type": "string"
                          },
                          "role": {
                            "type": "string"
                          },
                          "models": {
                            "type": "array",
                            "items": {
                              "type": "string"
                            }
                          },
                          "created": {
                            "type": "string"
                          },
                          "expires_at": {
                            "type": "string",
                            "nullable": true
                          },
                          "revoked": {
                            "type": "boolean"
                          },
                          "rate_limit": {
                            "type": "object"
                          }
                        }
                      }
                    }
                  }
                }
              }
            }
          },
          "401": {
            "$ref": "#/components/responses/Error"
          },
          "403": {
            "$ref": "#/components/responses/Error"
          },
          "429": {
            "$ref": "#/components/responses/Error"
          }
        }
      },
      "post": {
        "summary": "Create an API key (the key is shown once)",
        "security": [
          {
            "bearer": []
          }
        ],
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "type": "object",
                "required": [
                  "name",
                  "role"
                ],
                "additionalProperties": false,
                "properties": {
                  "name": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": 128
                  },
                  "role": {
                    "type": "string"
                  },
                  "models": {
                    "type": "array",
                    "maxItems": 64,
                    "items": {
                      "type": "string",
                      "minLength": 1,
                      "maxLength": 128
                    }
                  },
                  "expires_at": {
                    "type": "string",
                    "format": "date-time"
                  },
                  "rate_limit": {
                    "type": "object",
                    "required": [
                      "requests_per_second",
                      "burst"
                    ],
                    "properties": {
                      "requests_per_second": {
                        "type": "number",
                        "exclusiveMinimum": true,
                        "minimum": 0
                      },
                      "burst": {
                        "type": "integer",
                        "minimum": 1
                      }
                    }
                  }
                }
              }
            }
          }
        },
        "responses": {
          "201": {
            "description": "Created",
            "content": {
              "application/json": {
                "schema": {
                  "type": "object",
                  "required": [
                    "id",
                    "key"
                  ],
                  "properties": {
                    "id": {
                      "type": "string"
                    },
                    "key": {
                      "type": "string"
                    }
                  }
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/Error"
          },
          "401": {
            "$ref": "#/components/responses/Error"
          },
          "403": {
            "$ref": "#/components/responses/Error"
          },
          "429": {
            "$ref": "#/components/responses/Error"
          }
        }
      }
    },
    "/admin/keys/{id}": {
      "delete": {
        "summary": "Revoke an API key at once",
        "security": [
          {
            "bearer": []
          }
        ],
        "parameters": [
          {
            "name": "id",
            "in": "path",
            "required": true,
            "schema": {
              "type": "string",
              "maxLength": 64
            }
          }
        ],
        "responses": {
          "204": {
            "description": "Revoked"
          },
          "401": {
            "$ref": "#/components/responses/Error"
          },
          "403": {
            "$ref": "#/components/responses/Error"
          },
          "404": {
            "$ref": "#/components/responses/Error"
          },
          "429": {
            "$ref": "#/components/responses/Error"
          }
        }
      }
    },
    "/admin/audit/checkpoint": {
      "get": {
        "summary": "Signed checkpoint of the audit log",
        "security": [
          {
            "bearer": []
          }
        ],
        "responses": {
          "200": {
            "description": "Checkpoint",
            "content": {
              "application/json": {
                "schema": {
                  "type": "object",
                  "required": [
                    "size",
                    "root",
                    "note"
                  ],
                  "properties": {
                    "size": {
                      "type": "integer"
                    },
                    "root": {
                      "type": "string"
                    },
                    "note": {
                      "type": "string"
                    }
                  }
                }
              }
            }
          },
          "401": {
            "$ref": "#/components/responses/Error"
          },
          "403": {
            "$ref": "#/components/responses/Error"
          },
          "429": {
            "$ref": "#/components/responses/Error"
          }
        }
      }
    },
    "/admin/audit/proof": {
      "get": {
        "summary": "Inclusion proof of an audit entry",
        "security": [
          {
            "bearer": []
          }
        ],
        "parameters": [
          {
            "name": "index",
            "in": "query",
            "required": true,
            "schema": {
              "type": "integer",
              "minimum": 0
            }
          },
          {
            "name": "size",
            "in": "query",
            "required": false,
            "schema": {
              "type": "integer",
              "minimum": 1
            }
          }
        ],
        "responses": {
          "200": {
            "description": "Proof",
            "content": {
              "application/json": {
                "schema": {
                  "type": "object",
                  "required": [
                    "index",
                    "size",
                    "root",
                    "leaf_hash",
                    "proof"
                  ],
                  "properties": {
                    "index": {
                      "type": "integer"
                    },
                    "size": {
                      "type": "integer"
                    },
                    "root": {
                      "type": "string"
                    },
                    "leaf_hash": {
                      "type": "string"
                    },
                    "proof": {
                      "type": "array",
                      "items": {
                        "type": "string"
                      }
                    }
                  }
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/Error"
          },
          "401": {
            "$ref": "#/components/responses/Error"
          },
          "403": {
            "$ref": "#/components/responses/Error"
          },
          "429": {
            "$ref": "#/components/responses/Error"
          }
        }
      }
    },
    "/openapi.json": {
      "get": {
        "summary": "This document",
        "security": [],
        "responses": {
          "200": {
            "description": "OpenAPI document",
            "content": {
              "application/json": {
                "schema": {
                  "type": "object"
                }
              }
            }
          }
        }
      }
    },
    "/metrics": {
      "get": {
        "summary": "Prometheus metrics (text exposition format); needs read_audit",
        "security": [
          {
            "bearer": []
          }
        ],
        "responses": {
          "200": {
            "description": "Metrics",
            "content": {
              "text/plain": {
                "schema": {
                  "type": "string"
                }
              }
            }
          },
          "401": {
            "$ref": "#/components/responses/Error"
          },
          "403": {
            "$ref": "#/components/responses/Error"
          },
          "429": {
            "$ref": "#/components/responses/Error"
          }
        }
      }
    }
  },
  "security": [
    {
      "bearer": []
    }
  ]
}
"""#

    static var bytes: [UInt8] { Array(text.utf8) }
}
