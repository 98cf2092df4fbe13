"""Quiz for lesson 00: setup and data."""

QUESTIONS = [
    {
        "id": "00.pixel_scaling",
        "text": (
            "The MNIST file stores a pixel as the integer 150 (uint8, range 0..255). What value "
            "does that pixel have in x after vaelab.data.load_mnist?"
        ),
        "options": [
            "1.0, because every non-zero pixel is switched on",
            "150.0, the same number as a float",
            "About 0.15 (150 / 1000)",
            "About 0.59 (150 / 255)",
        ],
        "correct": 3,
        "explanations": [
            "That is binarisation, an option (load_mnist(binarized=True)) that samples 0/1 "
            "pixels with probability equal to the intensity. By default vaelab keeps the grey "
            "levels.",
            "Casting to float keeps the 0..255 range. The reconstruction loss needs targets "
            "in [0, 1], and vaelab's input checks refuse such an x with the hint to divide by "
            "255.",
            "The largest pixel value is 255, not 1000: dividing by 1000 would squeeze every "
            "image into [0, 0.255], so white strokes would never reach 1.",
            "Right: images are divided by 255, so 0..255 maps onto [0, 1] and 150 becomes 150 "
            "/ 255, about 0.588. The Bernoulli likelihood needs targets in [0, 1], the range "
            "of the decoder's sigmoid.",
        ],
    },
    {
        "id": "00.batch_shape",
        "text": "A batch of 64 MNIST images, as vaelab's models take it, has which shape?",
        "options": [
            "(64, 784)",
            "(64, 1, 28, 28)",
            "(28, 28, 1, 64)",
            "(64, 28, 28)",
        ],
        "correct": 1,
        "explanations": [
            "That is the flattened view the MLP makes inside its first layer (nn.Flatten). "
            "vaelab keeps images as images, so the same x works for MLP and conv models and "
            "for plots.",
            "Right: PyTorch's (B, C, H, W) layout: the batch first, one grey channel, 28 x 28 "
            "pixels. The MLP flattens inside the model; conv layers need the channel axis.",
            "PyTorch puts the batch first and channels before height and width; every layer "
            "treats the first axis as the batch, so this would be read as 28 images of 28 x "
            "1.",
            "That is the raw file's layout, without the channel axis. Conv2d expects (B, C, "
            "H, W); add the axis with x.unsqueeze(1).",
        ],
    },
]
